/*! pollserver reader-poll widget | MIT
 * <div data-reader-poll="POLL_ID"></div><script async src="https://HOST/widget.js"></script>
 * Options (data attributes on the div): data-lang="en|de|fr", data-theme="light|dark",
 * data-label-yes="…" (any word below, e.g. data-label-retry); data-preview-src="URL" (the desk's
 * preview: the poll from that URL, walked here, nothing sent). Styling from the host page:
 * --reader-poll-accent, --reader-poll-accent-text, --reader-poll-font, --reader-poll-radius,
 * --reader-poll-margin (and --reader-poll-accent-dark, --reader-poll-accent-text-dark).
 */
(() => {
  "use strict";
  // Loaded twice (one snippet per poll on a page): the first copy does all the work.
  if (window.ReaderPoll) {
    try {
      window.ReaderPoll.scan();
    } catch (e) {}
    return;
  }

  const script =
    document.currentScript ||
    [...document.querySelectorAll("script[src]")].find((s) => /\/widget\.js([?#]|$)/.test(s.src));
  // The API lives beside the script, so one snippet works on any page of any site.
  const API = new URL("api/v1/polls/", script ? script.src : location.href).href;

  const WORDS = {
    en: {
      poll: "Reader poll",
      yes: "Yes",
      no: "No",
      loading: "Loading the poll…",
      question: "Question {n}",
      saved: "Answer saved.",
      you: "You said {answer}",
      also: "{pct} of readers also said {answer}",
      said: "{pct} of readers said {answer}",
      counts: "{count} of {total} readers said {answer}",
      lead: "Where your answers lead",
      results: "How readers answered",
      ends: "Where readers ended up",
      reached: "{pct} of readers who finished ended here",
      reachedCount: "Readers who ended here: {count}",
      yours: "Your outcome",
      readers: "Readers taking part: {n}",
      end: "Thank you for taking part.",
      later: "Results will be shown when the poll closes.",
      paused: "This poll is paused and is not taking answers right now.",
      closed: "This poll is closed.",
      network: "The poll could not be reached. Check your connection and try again.",
      rate: "Too many answers from your network. Try again in {n} s.",
      rateLater: "Too many answers from your network. Try again later.",
      failed: "Something went wrong. Please try again.",
      retry: "Try again",
      preview: "Preview: nothing you answer here is counted.",
      again: "Start again",
    },
    de: {
      poll: "Leserumfrage",
      yes: "Ja",
      no: "Nein",
      loading: "Die Umfrage wird geladen …",
      question: "Frage {n}",
      saved: "Antwort gespeichert.",
      you: "Ihre Antwort: {answer}",
      also: "{pct} der Lesenden sagten ebenfalls {answer}",
      said: "{pct} der Lesenden sagten {answer}",
      counts: "{count} von {total} Lesenden sagten {answer}",
      lead: "Wohin Ihre Antworten führen",
      results: "So haben die Lesenden geantwortet",
      ends: "Wo die Lesenden ankamen",
      reached: "{pct} derer, die fertig wurden, kamen hier an",
      reachedCount: "Hier angekommen: {count}",
      yours: "Ihr Ergebnis",
      readers: "Teilnehmende: {n}",
      end: "Danke fürs Mitmachen.",
      later: "Die Ergebnisse erscheinen, wenn die Umfrage endet.",
      paused: "Diese Umfrage ist pausiert und nimmt gerade keine Antworten an.",
      closed: "Diese Umfrage ist beendet.",
      network:
        "Die Umfrage ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
      rate: "Zu viele Antworten aus Ihrem Netz. Versuchen Sie es in {n} s erneut.",
      rateLater: "Zu viele Antworten aus Ihrem Netz. Versuchen Sie es später erneut.",
      failed: "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
      retry: "Erneut versuchen",
      preview: "Vorschau: Antworten hier werden nicht gezählt.",
      again: "Von vorn",
    },
    fr: {
      poll: "Sondage des lecteurs",
      yes: "Oui",
      no: "Non",
      loading: "Chargement du sondage…",
      question: "Question {n}",
      saved: "Réponse enregistrée.",
      you: "Votre réponse : {answer}",
      also: "{pct} des lecteurs ont aussi répondu {answer}",
      said: "{pct} des lecteurs ont répondu {answer}",
      counts: "{count} lecteurs sur {total} ont répondu {answer}",
      lead: "Où mènent vos réponses",
      results: "Les réponses des lecteurs",
      ends: "Où les lecteurs sont arrivés",
      reached: "{pct} des lecteurs ayant terminé sont arrivés ici",
      reachedCount: "Arrivés ici : {count}",
      yours: "Votre résultat",
      readers: "Participants : {n}",
      end: "Merci de votre participation.",
      later: "Les résultats seront affichés à la clôture du sondage.",
      paused: "Ce sondage est en pause et n’accepte pas de réponses pour le moment.",
      closed: "Ce sondage est clos.",
      network: "Le sondage est injoignable. Vérifiez votre connexion et réessayez.",
      rate: "Trop de réponses depuis votre réseau. Réessayez dans {n} s.",
      rateLater: "Trop de réponses depuis votre réseau. Réessayez plus tard.",
      failed: "Une erreur est survenue. Veuillez réessayer.",
      retry: "Réessayer",
      preview: "Aperçu : les réponses données ici ne sont pas comptées.",
      again: "Recommencer",
    },
  };

  const DARK =
    "--a:var(--reader-poll-accent-dark,var(--reader-poll-accent,#8ab4f8));" +
    "--at:var(--reader-poll-accent-text-dark,#0b1a33);--bg:#1f1f23;--fg:#ececf1;" +
    "--mu:#b9b9c6;--ln:#55555f;--tr:#3a3a42;color-scheme:dark";
  const CSS = `
:host{display:block}
.rp{all:initial;display:block;box-sizing:border-box;max-width:40em;margin:var(--reader-poll-margin,1.5em 0);
--a:var(--reader-poll-accent,#0b57d0);--at:var(--reader-poll-accent-text,#fff);--bg:#fff;--fg:#1b1b1f;
--mu:#4a4a55;--ln:#c4c4cc;--tr:#e4e4ea;--r:var(--reader-poll-radius,8px);color-scheme:light;
color:var(--fg);background:var(--bg);border:1px solid var(--ln);border-radius:var(--r);
padding:1em 1.25em;font:medium/1.5 var(--reader-poll-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);
overflow-wrap:anywhere;text-align:start}
.rp.dark{${DARK}}
@media (prefers-color-scheme:dark){.rp:not(.light){${DARK}}}
.rp *{box-sizing:border-box}
[hidden]{display:none!important}
p,ul,ol{margin:0 0 .6em;padding:0}
ul,ol{list-style:none}
.t{font-weight:700;font-size:1.1em;margin-bottom:.5em}
.k{font-weight:700;margin-top:1em}
.m,.note{color:var(--mu);font-size:.9em}
.q{font-size:1.15em;font-weight:600;margin-bottom:.75em}
ol.o{list-style:decimal;padding-inline-start:1.4em}
li{margin:0 0 .75em}
.qt{margin:0 0 .15em;font-weight:600}
.tag{display:inline-block;margin-inline-start:.5em;padding:0 .45em;border:1px solid var(--a);
border-radius:1em;font-size:.8em;font-weight:600}
.bs{display:flex;flex-wrap:wrap;gap:.75em}
button{all:unset;box-sizing:border-box;flex:1 1 7em;max-width:14em;min-height:44px;padding:.55em 1.25em;
border:2px solid var(--a);border-radius:var(--r);background:var(--a);color:var(--at);
font:inherit;font-weight:700;text-align:center;cursor:pointer}
button:hover{filter:brightness(1.12)}
button[aria-disabled=true]{cursor:progress;filter:saturate(.6)}
button.s{flex:0 0 auto;background:transparent;color:var(--a);margin-top:.5em}
:focus{outline:none}
:focus-visible{outline:3px solid var(--a);outline-offset:3px;border-radius:2px}
button:focus-visible{border-radius:var(--r)}
.bar{height:.55em;margin:.25em 0;background:var(--tr);border-radius:1em;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--a);transform-origin:0 50%;animation:g .7s ease-out}
.err{margin-top:.75em;padding:.6em .8em;border-inline-start:4px solid var(--a);background:var(--tr)}
.err p{margin:0}
.pv{margin:-.25em 0 .75em;padding:.3em .6em;border:1px dashed var(--mu);border-radius:var(--r);color:var(--fg);font-size:.9em}
.fade{animation:f .25s ease-out}
@keyframes g{from{transform:scaleX(0)}}
@keyframes f{from{opacity:0}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
.sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;
  let sheet = null;
  try {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  } catch (e) {
    sheet = null;
  }

  const seen = new WeakSet();

  const h = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text; // poll texts are data: never parsed as HTML
    return e;
  };
  const button = (label, cls, onClick) => {
    const b = h("button", cls, label);
    b.type = "button";
    // The second click of a double click would answer the next question: ignore it.
    b.addEventListener("click", (e) => e.detail > 1 || onClick());
    return b;
  };
  // Kept as "version:token": a token belongs to the version of the poll its reader started.
  const storageKey = (id) => "reader-poll:" + id;
  const loadSaved = (id) => {
    try {
      const value = localStorage.getItem(storageKey(id)) || "";
      const colon = value.indexOf(":");
      if (!value) return null;
      return colon < 0
        ? { version: 1, token: value } // kept before versions had their own tokens
        : { version: Number(value.slice(0, colon)), token: value.slice(colon + 1) };
    } catch (e) {
      return null; // storage blocked: the reader simply starts fresh next time
    }
  };
  const saveToken = (st, token) => {
    if (st.preview) return;
    try {
      if (token) localStorage.setItem(storageKey(st.id), st.poll.version + ":" + token);
      else localStorage.removeItem(storageKey(st.id));
    } catch (e) {}
  };
  const warn = (e) => {
    try {
      console.warn("[reader-poll]", e);
    } catch (x) {}
  };

  // A word in the embed's language; data-label-<word> on the div overrides it.
  const word = (st, key, vars) => {
    const name = "label" + key[0].toUpperCase() + key.slice(1);
    let text = st.el.dataset[name] || (WORDS[st.lang] || {})[key] || WORDS.en[key];
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
    return text;
  };
  const percent = (st, share) => {
    try {
      return new Intl.NumberFormat(st.lang, { style: "percent" }).format(share);
    } catch (e) {
      return Math.round(share * 100) + "%";
    }
  };
  const langOf = (value) => {
    const lang = String(value || "")
      .toLowerCase()
      .split(/[-_]/)[0];
    return /^[a-z]{2,3}$/.test(lang) ? lang : "";
  };

  async function call(st, path, init) {
    const options = { credentials: "omit", ...init };
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) {
      options.signal = AbortSignal.timeout(15000);
    }
    const response = await fetch(API + encodeURIComponent(st.id) + path, options);
    let body = null;
    try {
      body = await response.json();
    } catch (e) {}
    const error = (body && body.error) || {};
    return {
      status: response.status,
      body,
      details: error.details || {},
      retry: response.headers.get("Retry-After"),
    };
  }

  function mount(el) {
    const id = (el.getAttribute("data-reader-poll") || "").trim();
    if (!id) return;
    let root;
    try {
      root = el.shadowRoot || el.attachShadow({ mode: "open" });
    } catch (e) {
      return warn("cannot render into <" + el.localName + ">: use a <div>");
    }
    if (sheet) root.adoptedStyleSheets = [sheet];
    else root.append(h("style", null, CSS));
    const theme = el.dataset.theme;
    const box = h("section", "rp" + (theme === "dark" || theme === "light" ? " " + theme : ""));
    const title = h("p", "t");
    const view = h("div");
    const live = h("p", "sr");
    live.setAttribute("aria-live", "polite");
    box.append(title, view, live);
    root.replaceChildren(box);
    const st = { id, el, box, title, view, live, lang: langOf(el.dataset.lang) || "en" };
    st.preview = el.dataset.previewSrc || "";
    box.setAttribute("aria-label", word(st, "poll"));
    view.append(h("p", "m", word(st, "loading")));
    start(st).catch(warn);
  }

  async function start(st) {
    const again = () => start(st).catch(warn);
    const saved = st.preview ? null : loadSaved(st.id);
    const token = saved && saved.token;
    let poll, progress;
    try {
      [poll, progress] = await Promise.all([
        // Revalidated on every load (a 304 when unchanged): a newly opened version shows at once.
        st.preview ? previewDocument(st) : call(st, "", { cache: "no-cache" }),
        token ? call(st, "/progress", { headers: { "X-Poll-Respondent": token } }) : null,
      ]);
    } catch (e) {
      return fail(st, word(st, "network"), again, true);
    }
    if (poll.status === 404) {
      // Unknown, draft or withdrawn poll: take no room on the host page.
      st.box.hidden = true;
      return warn("no published poll " + st.id);
    }
    if (poll.status !== 200 || !poll.body) return failed(st, poll, again, true);
    st.poll = poll.body;
    st.nodes = {};
    for (const node of st.poll.nodes) st.nodes[node.id] = node;
    st.lang = langOf(st.el.dataset.lang) || langOf(st.poll.settings.language) || "en";
    st.title.textContent = st.poll.title;
    st.box.setAttribute("aria-label", word(st, "poll") + ": " + st.poll.title);
    if (st.preview && !st.pv) st.title.after((st.pv = h("p", "pv", word(st, "preview"))));
    // A token of an earlier version: that walk is over here; the reader meets the new one.
    if (progress && saved.version === st.poll.version) {
      if (progress.status === 200) {
        st.token = token;
        return show(st, progress.body, false);
      }
      if (progress.details.respondent !== "unknown") {
        return failed(st, progress, again, true);
      }
      saveToken(st, null); // the server does not know this reader: start afresh
    }
    show(st, { path: [], current: st.poll.root, finished: false, outcomes: [], results: null });
  }

  // Render a reader's progress; `moved` means it follows their own action, so focus follows.
  function show(st, pr, moved) {
    st.path = pr.path;
    const open = st.preview || st.poll.status === "open";
    if (!pr.finished && open) return ask(st, pr.current, pr.path.length + 1, moved);
    const parts = [];
    if (!open) parts.push(h("p", "m", word(st, st.poll.status === "paused" ? "paused" : "closed")));
    if (!pr.finished) {
      parts.push(h("p", "q", st.nodes[pr.current] ? st.nodes[pr.current].text : ""));
      render(st, parts, parts[0], moved);
      return visibleResults(st) ? loadResults(st).catch(warn) : undefined;
    }
    const thanks = h("p", "q", word(st, "end"));
    parts.push(thanks);
    if (pr.outcomes.length) {
      parts.push(h("p", "k", word(st, "lead")));
      const list = h("ol", "o");
      for (const key of pr.outcomes) list.append(h("li", null, st.nodes[key].text));
      parts.push(list);
    }
    if (pr.results) parts.push(resultsView(st, pr.results, pr.path, pr.outcomes));
    else if (st.preview) parts.push(button(word(st, "again"), "s", () => start(st).catch(warn)));
    else if (st.poll.settings.results_visibility === "after_close" && open) {
      parts.push(h("p", "m", word(st, "later")));
    }
    render(st, parts, thanks, moved);
    // Announced: the end, and how others answered the reader's questions.
    if (moved) announce(st, [word(st, "saved"), word(st, "end"), ...(st.said || [])].join(" "));
  }

  function ask(st, key, number, moved) {
    const node = st.nodes[key];
    const step = h("p", "m", word(st, "question", { n: number }));
    const text = h("p", "q", node.text);
    text.id = "q";
    const group = h("div", "bs");
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", "q");
    for (const value of ["yes", "no"]) {
      group.append(button(word(st, value), null, () => answer(st, key, value).catch(warn)));
    }
    render(st, [step, text, group], text, moved);
    if (moved) announce(st, word(st, "saved") + " " + word(st, "question", { n: number }));
  }

  function render(st, parts, focusTarget, moved) {
    st.err = null;
    const view = h("div", "fade");
    view.append(...parts);
    st.view.replaceWith(view);
    st.view = view;
    if (moved && focusTarget) {
      focusTarget.tabIndex = -1; // focus follows the reader to what their answer brought
      focusTarget.focus();
    }
  }

  function announce(st, text) {
    st.live.textContent = "";
    setTimeout(() => (st.live.textContent = text), 50);
  }

  // The desk's preview: the poll (a draft too) from the page's own origin, with its session.
  async function previewDocument(st) {
    const response = await fetch(st.preview, { credentials: "same-origin" });
    return { status: response.status, body: await response.json().catch(() => null), details: {} };
  }

  // Where an answer leads, worked out here as the server would (the preview sends nothing).
  function walkHere(st, key, value) {
    const path = [...st.path, { node: key, answer: value }];
    let next = st.nodes[key][value];
    if (next && st.nodes[next].type === "question") {
      return { path, current: next, finished: false, outcomes: [], results: null };
    }
    const outcomes = [];
    for (; next; next = st.nodes[next].next) outcomes.push(next);
    return { path, current: null, finished: true, outcomes, results: null };
  }

  async function answer(st, key, value) {
    if (st.preview) return show(st, walkHere(st, key, value), true);
    if (st.busy) return; // one request at a time: a double click answers once
    st.busy = true;
    const buttons = st.view.querySelectorAll(".bs button");
    buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
    const again = () => answer(st, key, value).catch(warn);
    let reply;
    try {
      reply = await call(st, "/answers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          respondent: st.token || null,
          node: key,
          answer: value,
          version: st.poll.version,
        }),
      });
    } catch (e) {
      reply = null;
    } finally {
      st.busy = false;
      buttons.forEach((b) => b.removeAttribute("aria-disabled"));
    }
    if (!reply) return fail(st, word(st, "network"), again);
    if (reply.status === 200 || reply.status === 201) {
      st.token = reply.body.respondent;
      saveToken(st, st.token);
      return show(st, reply.body, true);
    }
    const details = reply.details;
    if (reply.status === 409 && details.version) return start(st).catch(warn); // a newer version
    if (reply.status === 409 && details.status) {
      st.poll.status = details.status; // paused or closed meanwhile
      return resume(st);
    }
    if (reply.status === 409) return resume(st); // answered elsewhere: ask where the reader is
    if (reply.status === 422 && details.respondent) {
      st.token = null;
      saveToken(st, null);
      return again();
    }
    if (reply.status === 404) {
      st.box.hidden = true;
      return;
    }
    failed(st, reply, again);
  }

  async function resume(st) {
    if (!st.token) return show(st, { path: [], current: st.poll.root, finished: false, outcomes: [] }, true);
    let reply;
    try {
      reply = await call(st, "/progress", { headers: { "X-Poll-Respondent": st.token } });
    } catch (e) {
      return fail(st, word(st, "network"), () => resume(st).catch(warn));
    }
    if (reply.status === 200) return show(st, reply.body, true);
    if (reply.details.respondent === "unknown") {
      st.token = null;
      saveToken(st, null);
      return resume(st);
    }
    failed(st, reply, () => resume(st).catch(warn));
  }

  const visibleResults = (st) => {
    const visibility = st.poll.settings.results_visibility;
    return visibility === "public" || (visibility === "after_close" && st.poll.status === "closed");
  };

  async function loadResults(st) {
    const headers = st.token ? { "X-Poll-Respondent": st.token } : {};
    const reply = await call(st, "/results", { headers }).catch(() => null);
    if (reply && reply.status === 200) st.view.append(resultsView(st, reply.body, st.path || [], []));
  }

  function resultsView(st, results, path, mine) {
    const box = h("div");
    box.append(h("p", "k", word(st, "results")));
    const published = results.shares_published;
    const bar = (share) => {
      const outer = h("div", "bar");
      const inner = h("span");
      inner.style.width = Math.round(share * 1000) / 10 + "%";
      outer.setAttribute("aria-hidden", "true");
      outer.append(inner);
      return outer;
    };
    const questions = h("ul");
    st.said = [];
    const steps = path.length
      ? path
      : st.poll.nodes.filter((n) => n.type === "question").map((n) => ({ node: n.id }));
    for (const stepOf of steps) {
      const q = results.questions[stepOf.node];
      if (!q || !st.nodes[stepOf.node]) continue;
      const value = stepOf.answer || "yes";
      const label = word(st, value);
      const item = h("li");
      item.append(h("p", "qt", st.nodes[stepOf.node].text));
      if (stepOf.answer) item.append(h("p", "m", word(st, "you", { answer: label })));
      if (published && q.yes_share != null) {
        const share = value === "yes" ? q.yes_share : 1 - q.yes_share;
        item.append(bar(share));
        const pct = percent(st, share);
        const line = word(st, stepOf.answer ? "also" : "said", { pct, answer: label });
        item.append(h("p", null, line));
        st.said.push(line);
      } else {
        const count = value === "yes" ? q.yes : q.no;
        item.append(h("p", null, word(st, "counts", { count, total: q.yes + q.no, answer: label })));
      }
      questions.append(item);
    }
    box.append(questions);

    // Outcome chains (o1 → o3 …), each named by its first outcome.
    const followers = new Set(st.poll.nodes.map((n) => n.next).filter(Boolean));
    const heads = st.poll.nodes.filter((n) => n.type === "outcome" && !followers.has(n.id));
    if (heads.length) {
      box.append(h("p", "k", word(st, "ends")));
      const outcomes = h("ul");
      for (const head of heads) {
        const o = results.outcomes[head.id];
        if (!o) continue;
        const texts = [];
        for (let n = head; n; n = st.nodes[n.next]) texts.push(n.text);
        const item = h("li");
        const text = h("p", "qt", texts.join(" → "));
        if (mine.includes(head.id)) text.append(h("span", "tag", word(st, "yours")));
        item.append(text);
        if (published && o.share_of_finished != null) {
          item.append(bar(o.share_of_finished));
          item.append(h("p", null, word(st, "reached", { pct: percent(st, o.share_of_finished) })));
        } else {
          item.append(h("p", null, word(st, "reachedCount", { count: o.reached })));
        }
        outcomes.append(item);
      }
      box.append(outcomes);
    }
    box.append(h("p", "note", results.note));
    box.append(h("p", "m", word(st, "readers", { n: results.respondents })));
    return box;
  }

  function failed(st, reply, again, replace) {
    if (reply.status === 429) {
      const wait = retrySeconds(reply.retry);
      const text = wait ? word(st, "rate", { n: wait }) : word(st, "rateLater");
      return fail(st, text, again, replace);
    }
    fail(st, word(st, "failed"), again, replace);
  }

  function retrySeconds(header) {
    if (!header) return 0;
    const seconds = /^\d+$/.test(header.trim())
      ? Number(header)
      : (Date.parse(header) - Date.now()) / 1000;
    return seconds > 0 ? Math.ceil(seconds) : seconds === 0 ? 1 : 0;
  }

  // An error that says what to do. `replace`: nothing useful to keep on screen (first load).
  function fail(st, message, again, replace) {
    const box = h("div", "err");
    box.setAttribute("role", "alert");
    box.append(h("p", null, message));
    const retry = button(word(st, "retry"), "s", () => {
      box.remove();
      again();
    });
    box.append(retry);
    if (replace) render(st, [box]);
    else {
      if (st.err) st.err.remove();
      st.view.append(box);
      if (st.el.shadowRoot.activeElement) retry.focus(); // the reader was acting: lead them on
    }
    st.err = box;
  }

  function scan() {
    document.querySelectorAll("[data-reader-poll]").forEach((el) => {
      if (seen.has(el)) return;
      seen.add(el);
      try {
        mount(el);
      } catch (e) {
        warn(e);
      }
    });
  }

  let queued = false;
  const queueScan = () => {
    if (queued) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      scan();
    }, 0);
  };
  try {
    new MutationObserver((records) => {
      for (const record of records) {
        if (record.type === "attributes") return queueScan();
        for (const node of record.addedNodes) {
          if (
            node.nodeType === 1 &&
            (node.hasAttribute("data-reader-poll") || node.querySelector("[data-reader-poll]"))
          ) {
            return queueScan();
          }
        }
      }
    }).observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["data-reader-poll"],
    });
  } catch (e) {
    warn(e);
  }

  window.ReaderPoll = Object.freeze({ scan, version: "1" });
  scan();
})();
