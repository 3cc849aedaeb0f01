/*! pollserver embed.js | MIT
 * <script async src="https://HOST/embed.js"></script>, once on a page with poll iframes:
 * each <iframe data-reader-poll-frame> of this server takes the column's width (up to its
 * width attribute) and the height of the poll inside it, as the frame reports it.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.src) return;
  // Frames of this server only: the script's own origin is the server's.
  const origin = new URL(script.src).origin;
  const FRAMES = "iframe[data-reader-poll-frame]";
  const fitted = new WeakSet();

  const isOurs = (frame) => {
    try {
      return new URL(frame.src, location.href).origin === origin;
    } catch (e) {
      return false;
    }
  };

  // Set through the CSSOM, which a Content-Security-Policy allows (a style attribute it may not).
  const fit = (frame) => {
    if (fitted.has(frame) || !isOurs(frame)) return;
    fitted.add(frame);
    const width = parseInt(frame.getAttribute("width"), 10);
    frame.style.width = "100%";
    if (width > 0) frame.style.maxWidth = width + "px";
    frame.style.border = "none";
    frame.style.display = "block";
    // A frame that reported its height before this script ran says it again. The question holds
    // nothing private, so "*": a frame still loading would log an error for our origin.
    frame.contentWindow?.postMessage({ readerPollAsk: "height" }, "*");
  };
  const fitAll = () => document.querySelectorAll(FRAMES).forEach(fit);

  addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== origin || !data || typeof data !== "object") return;
    const height = data.readerPollHeight;
    if (typeof height !== "number" || !(height > 0) || height > 100000) return;
    for (const frame of document.querySelectorAll(FRAMES)) {
      if (frame.contentWindow === event.source) {
        fit(frame);
        frame.style.height = Math.ceil(height) + "px";
      }
    }
  });

  fitAll();
  // Frames added later (a page that renders its article after this script ran).
  new MutationObserver(fitAll).observe(document.documentElement, { childList: true, subtree: true });
})();
