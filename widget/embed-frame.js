/*! pollserver embed-frame.js | MIT
 * In the iframe page /embed/POLL_ID: tells the host page how tall the poll is, on every change,
 * to pollserver's embed.js ({readerPoll, readerPollHeight}) and to AMP (embed-size).
 */
(() => {
  "use strict";
  if (window.parent === window) return;
  const content = document.querySelector("[data-reader-poll-frame-content]");
  const poll = document.querySelector("[data-reader-poll]");
  if (!content || !poll) return;
  const id = poll.getAttribute("data-reader-poll");
  let last = 0;

  const report = (again) => {
    const height = Math.ceil(content.getBoundingClientRect().height);
    if (!height || (height === last && !again)) return;
    last = height;
    window.parent.postMessage({ readerPoll: id, readerPollHeight: height }, "*");
    window.parent.postMessage({ sentinel: "amp", type: "embed-size", height }, "*");
  };

  new ResizeObserver(() => report(false)).observe(content);
  // embed.js, loaded after this frame, asks for the height it missed.
  addEventListener("message", (event) => {
    if (event.source === window.parent && event.data && event.data.readerPollAsk === "height") {
      report(true);
    }
  });
})();
