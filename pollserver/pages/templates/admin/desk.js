/* The desk's one script, an enhancement only: every page works without it.
 * Copy buttons (shown only when this runs) put a snippet or a new token on the clipboard. */
(() => {
  "use strict";
  const said = document.createElement("p");
  said.className = "visually-hidden";
  said.setAttribute("aria-live", "polite");
  document.body.append(said);
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    const label = button.firstChild.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.firstChild.textContent = "Copied";
        said.textContent = "Copied to the clipboard.";
      } catch (e) {
        // Clipboard refused (permissions): select the text so Ctrl+C does it.
        const range = document.createRange();
        range.selectNodeContents(source);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        button.firstChild.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => (button.firstChild.textContent = label), 2500);
    });
  }
})();
