/*! pollserver reader-poll widget | MIT */
/* The snippet: <div class="reader-poll" data-reader-poll="ID" style="min-height:15rem"><a href="https://HOST/p/ID">Reader poll: TITLE</a></div><script async src="https://HOST/widget.js"></script>
 * On the div: data-lang, data-theme="light|dark", data-label-<word> (a key of widget/words/en.json),
 * data-reader-poll-server="https://HOST/" (whose poll it is, when a page loads several pollservers),
 * data-preview-src="URL" (the desk's preview: nothing is sent). Events on the div, bubbling:
 * reader-poll:answer and reader-poll:finish, each {poll, version, node}: nothing about the reader.
 * Styling: --reader-poll-accent, -accent-text, -font, -radius, -margin, -accent-dark, -accent-text-dark.
 *
 * Built (widget_build.py): __WIDGET_CSS__ becomes widget.css minified, __WORDS_EN__ words/en.json,
 * __WORDS_LANGUAGES__ the other languages with words, __WORDS_HASH__ the hash in their URLs,
 * __EXTRAS_URL__ where widget/extras.js is. Names are short: the script is sent to
 * every reader. A poll's state P, shared by every copy of the poll on the page:
 *   id, u (its API URL), pv (preview source), V (its views), p (the poll), N (nodes by id),
 *   d (questions left, by node), g (the reader's progress), R (results), t (token), k (request
 *   key), e (error shown), m (focus moves), a (the view acted in), b (busy), x (results peeked
 *   at), q (question asked again), z (not published), w (waited once for a busy server).
 * A view V, one copy on the page: h (host element), x (box), y (body), l (live region),
 * L (language), s (what to announce), P.
 */
(() => {
  const D = document;
  const JS = /\/widget[\w.-]*\.js([?#]|$)/;
  const SRC = D.currentScript.src;
  // The API lives beside the script: one snippet works on any page of any site.
  const api = (u) => new URL("api/v1/polls/", u).href;
  const API = api(SRC);
  const EN = __WORDS_EN__;
  const LANGS = __WORDS_LANGUAGES__; // their words: widget/words/<language>.<one hash>.json
  const CSS = __WIDGET_CSS__;
  const T = { en: EN }; // words by language: loaded, or their promise while loading
  const polls = new Map();
  // Constructable: allowed by a strict CSP, where a <style> element would need its nonce.
  const sheet = new CSSStyleSheet();
  let blocked;
  sheet.replaceSync(CSS);

  // Poll texts are data: they become text nodes, never markup.
  const h = (tag, cls, ...kids) => {
    const e = D.createElement(tag);
    e.className = cls || "";
    e.append(...kids.filter(Boolean));
    return e;
  };
  // An editor's text takes the direction of its own words, isolated from the widget's.
  const u = (tag, cls, text) => {
    const e = h(tag, cls, text);
    e.dir = "auto";
    return e;
  };
  const btn = (label, cls, f) => {
    const b = h("button", cls, label);
    // The second click of a double click would answer the next question: ignore it.
    b.addEventListener("click", (e) => e.detail > 1 || f());
    return b;
  };
  // "de-CH" and "de_CH" are "de"; anything else that is not a language is nothing.
  const langOf = (v) => /^[a-z]{2,3}(?![a-z])/i.exec(v)?.[0].toLowerCase();
  // A language's words, fetched once when first needed; English when they cannot be had.
  const words = async (l) =>
    T[l] ||
    (T[l] = LANGS.includes(l)
      ? fetch(new URL(`widget/words/${l}.__WORDS_HASH__.json`, SRC), { credentials: "omit" })
          .then((r) => r.json())
          .catch(() => EN)
          .then((d) => (T[l] = d))
      : EN);
  // A word in the view's language; data-label-<word> on the div overrides it.
  const w = (V, k, v) =>
    (V.h.getAttribute("data-label-" + k) || (T[V.L] || EN)[k] || EN[k]).replace(/\{(\w)\}/g, (m, x) => v?.[x] ?? m);
  const pct = (V, x) => new Intl.NumberFormat(V.L, { style: "percent" }).format(x);
  const readers = (V, n) =>
    w(V, n == 1 ? "reader" : "readers", { n: n.toLocaleString(V.L) });
  // "in 45 seconds", "in 2 minutes": never a raw count of seconds.
  const rel = (V, s) => {
    const [n, unit] = s < 60 ? [s, "second"] : s < 3600 ? [s / 60, "minute"] : [s / 3600, "hour"];
    return new Intl.RelativeTimeFormat(V.L, { numeric: "auto" }).format(Math.ceil(n), unit);
  };
  const sec = (h, d) => Math.ceil(+h || d); // Retry-After: pollserver sends seconds

  // Kept per poll: "version:token:time" (a token belongs to the version its reader started; the
  // time tells the poll's other tabs that the reader moved on) and "version:request key".
  const K = (P, x) => "reader-poll" + x + ":" + P.id;
  const ls = (f) => {
    try {
      return f(localStorage);
    } catch (e) {} // storage blocked: the reader simply starts fresh next time
  };
  const load = (P, x) => {
    const a = (ls((s) => s.getItem(K(P, x))) || "").split(":");
    return a[1] ? a : [1, a[0]]; // a bare token was kept before versions had their own
  };
  const save = (P, t) => {
    P.t = t;
    P.pv || ls((s) => (t ? s.setItem(K(P, ""), P.p.version + ":" + t + ":" + Date.now()) : s.removeItem(K(P, ""))));
  };
  // A new reader's request key, drawn once per browser and poll version: 128 random bits as four
  // numbers (under the 16 characters the server asks for only if together they had fewer than
  // 13 digits: far less than once in 10^20 keys).
  const key = (P) => {
    const [v, k] = load(P, "-key");
    v == P.p.version && k
      ? (P.k = k)
      : ls((s) => s.setItem(K(P, "-key"), P.p.version + ":" + (P.k ||= crypto.getRandomValues(new Uint32Array(4)).join("_"))));
    return P.k;
  };

  const call = async (url, o) => {
    const r = await fetch(url, { credentials: "omit", signal: AbortSignal.timeout?.(15e3), ...o });
    const b = await r.json().catch(() => 0);
    const e = b?.error || {};
    return { s: r.status, b, d: e.details || {}, m: e.message, r: r.headers.get("Retry-After") };
  };

  // Questions from here to the end of the longest path on: "Question 1 of 2".
  const depth = (P, k) => {
    const n = P.N[k];
    return (P.d[k] ??= n && n.type == "question" ? 1 + Math.max(depth(P, n.yes), depth(P, n.no)) : 0);
  };

  const draw = (P) => {
    P.V.forEach(paint);
    P.m = 0;
  };

  // One copy of the poll drawn from the shared state; focus follows the reader where they acted.
  const paint = (V) => {
    const P = V.P, { p, g, e, R } = P, x = V.x, t = (k, v) => w(V, k, v), parts = [], links = [];
    const ln = (k, f) => links.push(btn(t(k), "ln", f));
    const l = (V.L = langOf(V.h.dataset.lang) || (p && langOf(p.settings.language)) || "en");
    let right, focus, said;
    x.lang = l;
    x.dir = /^(ar|he|fa|ur)$/.test(l) ? "rtl" : "ltr";
    // Unknown, draft or withdrawn poll: take no room on the host page.
    if (P.z) return (V.h.style.cssText += ";display:none!important");
    if (!p) parts.push(!e && h("p", "mt", t("loading")));
    else {
      const set = p.settings, open = P.pv || p.status == "open", path = g.path;
      const q = P.q || (open && !g.finished && g.current);
      parts.push(u("h2", 0, p.title), P.pv && h("p", "pv", t("preview")));
      if (q && !P.x) {
        const i = path.findIndex((s) => s.node == q), n = i < 0 ? path.length : i, b = h("div", "bs");
        said = right = t("step", { n: n + 1, m: n + depth(P, q) });
        focus = u("p", "q", P.N[q].text);
        focus.id = "q";
        b.role = "group";
        b.setAttribute("aria-labelledby", "q");
        for (const a of ["yes", "no"]) b.append(btn(t(a), 0, () => answer(P, V, q, a)));
        parts.push(focus, b);
        if (n && open && set.allow_answer_changes) ln("back", () => go(P, V, path[n - 1].node));
        if (set.results_visibility == "public" && !P.pv) ln("see", () => peek(P, V, 1));
      } else {
        if (!open) parts.push((focus = h("p", "st", t(p.status == "paused" ? "paused" : "closed"))));
        if (g.finished) {
          // Every path has an ending: where the answers lead, or at least that they counted.
          // The outcome chain as one path, each outcome isolated from the others.
          focus = h(
            "p",
            "o",
            ...(g.outcomes[0]
              ? [h("b", 0, t("lead")), ...g.outcomes.flatMap((o, i) => [i ? " → " : " ", h("bdi", 0, P.N[o].text)])]
              : [t("counted")])
          );
          parts.push(focus);
          said = focus.textContent;
        }
        if (R && !P.c) parts.push(...results(V, P, R, t));
        else if (R) ln("see", () => go(P, V, (P.c = 0)));
        else if (g.finished && open && set.results_visibility == "after_close") parts.push(h("p", "mt", t("later")));
        if (P.x) ln("toq", () => peek(P, V, 0));
        if (g.finished && open && set.allow_answer_changes) ln("change", () => go(P, V, path[path.length - 1].node));
        if (P.pv && g.finished) ln("again", () => go(P, V, 0, 1));
        focus = focus || parts[0];
      }
    }
    if (e) {
      const b = h("div", "err", h("p", 0, t(e.k, { t: e.s && rel(V, e.s) })));
      b.role = "alert";
      if (e.a) {
        b.append(
          (focus = btn(t("retry"), "ln", () => {
            P.w = 0;
            e.a();
          }))
        );
      }
      parts.push(b);
    }
    const y = h("div", "v", h("p", "k", h("b", 0, t("poll")), right && h("span", 0, right)), ...parts, h("div", "lk", ...links));
    V.y.replaceWith(y);
    V.y = y;
    V.s = said;
    if (P.m && V == P.a && focus) {
      focus.tabIndex = -1; // focus follows the reader to what their action brought
      focus.focus();
    }
  };

  const bar = (s, c) => {
    const i = h("i");
    i.style.width = s * 100 + "%"; // through the CSSOM: allowed by a strict CSP, unlike markup
    return h("span", "b" + c, i);
  };

  // How readers answered the reader's questions (every question for someone who has not
  // answered), and where readers ended up: every ending, together every finished reader.
  const results = (V, P, r, t) => {
    const pub = r.shares_published, g = P.g, path = g.path, out = [], my = {};
    const you = (m) => m && h("span", "sr", " (" + t("you") + ")");
    for (const s of path) my[s.node] = s.answer;
    for (const k of path.length ? Object.keys(my) : Object.keys(r.questions)) {
      const q = r.questions[k], mine = my[k];
      const sh = pub && q.yes_share != null, b = h("div", "g" + (sh ? "" : " n")), iv = q.yes_interval;
      for (const a of ["yes", "no"]) {
        const s = a == "yes" ? q.yes_share : 1 - q.yes_share, m = mine == a ? " m" : "";
        b.append(h("span", "l" + m, t(a), you(m)));
        if (sh) b.append(bar(s, m), h("span", "p", pct(V, s)));
        b.append(h("span", "c", readers(V, q[a])));
      }
      out.push(h("div", "r", u("h3", 0, P.N[k].text), b, sh && iv && h("p", "mt", t("moe", { n: Math.round((iv[1] - iv[0]) * 50) }))));
    }
    const E = r.endings || [];
    if (E.length) {
      const b = h("div", "g e");
      for (const e of E) {
        // The reader's ending: their outcome chain (branches may join into one), or the answer
        // that ended their path where it leads to no outcome.
        const m = g.finished && (e.outcomes[0] ? e.outcomes + "" == g.outcomes : my[e.node] == e.answer) ? " m" : "",
          s = e.share_of_finished;
        b.append(
          h(
            "span",
            "l" + m,
            ...(e.outcomes.length
              ? [e.outcomes.map((o) => P.N[o].text).join(" → ")]
              : // A path that ends on an answer with no outcome: named by its question (isolated
                // from the words around it, as <bdi> would) and the answer.
                [t("stop", { a: t(e.answer), q: "\u2068" + P.N[e.node].text + "\u2069" })]),
            you(m)
          ),
          pub ? h("span", "p", pct(V, s)) : h("span", "c", readers(V, e.respondents))
        );
        if (pub) b.append(bar(s, m));
      }
      out.push(h("div", "r", h("h3", 0, t("ends")), b));
    }
    out.push(h("p", "f", readers(V, r.respondents) + " · " + t("note") + (pub ? "" : " " + t("few", { n: r.min_respondents }))));
    return out;
  };

  // A reader who has not answered yet.
  const fresh = (P) => ({ path: [], current: P.p.root, outcomes: [] });
  const go = (P, V, node, again) => {
    if (again) P.g = fresh(P);
    P.q = node;
    P.a = V;
    P.m = 1;
    draw(P);
  };

  const peek = async (P, V, on) => {
    if ((P.x = on) && !P.R) await more(P);
    go(P, V, P.q);
  };

  // The results for anyone, when the poll's visibility allows (closed, paused, "see results").
  const more = (P) => call(P.u + "/results").then((r) => r.s == 200 && (P.R = r.b), () => 0);

  // What only some need (widget/extras.js: the proof-of-work solver, the preview's walk).
  const extras = () => import(new URL(__EXTRAS_URL__, SRC));

  // `f`: a proof of work, when the server asked for one.
  const answer = async (P, V, q, a, f) => {
    if (P.b) return; // one request at a time: a double click answers once
    P.a = V;
    if (P.pv) return done(P, V, (await extras()).walk(P, q, a), q);
    P.b = 1;
    // Another tab or copy of the poll may have started this reader meanwhile.
    const [v, k] = load(P, "");
    if (!P.t && v == P.p.version) P.t = k;
    let r;
    try {
      r = await call(P.u + "/answers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        // A new reader's request key: a retried first answer whose reply was lost, or the same
        // reader's first answer from another tab, is answered as the reader it started.
        body: JSON.stringify({ respondent: P.t || null, node: q, answer: a, version: P.p.version, request_key: P.t ? undefined : key(P), proof: f }),
      });
      // Many new readers from this network, or at once: the server asks for about a second's
      // work before it counts one more. Its solver is loaded only then.
      if (!f && r.d.challenge) return answer(P, V, q, a, await (await extras()).work(r.d), (P.b = 0));
    } catch (e) {
      r ||= e; // the network failed, or the work could not be done (no Web Crypto): say so
    }
    P.b = 0;
    const again = () => answer(P, V, q, a), d = r.d || {}, s = r.s;
    if (s < 300) {
      save(P, r.b.respondent); // tells the poll's other tabs
      return done(P, V, r.b, q);
    }
    if (s == 409 && d.version) return start(P); // a newer version is open: meet it
    if (s == 409) {
      if (d.status) P.p.status = d.status; // paused or closed meanwhile
      if (!P.t && d.respondent) save(P, d.respondent); // this browser's reader, further on
      return start(P, 1); // where the reader stands
    }
    if (d.reason == "unknown_respondent") {
      save(P, 0);
      return again();
    }
    fail(P, r, again, 1);
  };

  const done = (P, V, g, node) => {
    const ev = (n) =>
      P.pv || V.h.dispatchEvent(new CustomEvent("reader-poll:" + n, { bubbles: true, detail: { poll: P.id, version: P.p.version, node } }));
    P.g = g;
    P.R = g.results;
    P.e = P.q = P.x = P.w = P.c = 0;
    P.m = 1;
    draw(P);
    V.l.textContent = w(V, "saved") + " " + V.s;
    ev("answer");
    if (g.finished) ev("finish");
  };

  // Load the poll and where this browser's reader stands. `moved`: the poll as it is, their
  // progress only: 1 after their own action here, 2 after one in another tab.
  const start = async (P, moved) => {
    const s = moved == 1 ? [P.p.version, P.t] : P.pv ? [] : load(P, ""), again = () => start(P, moved);
    let doc, r;
    try {
      [doc, r] = await Promise.all([
        // Revalidated on every load (a 304 when unchanged): a newly opened version shows at once.
        // The desk's preview: the poll (a draft too) from the desk, with its session.
        moved ? { s: 200, b: P.p } : call(P.pv || P.u, P.pv ? { credentials: "same-origin" } : { cache: "no-cache" }),
        s[1] && call(P.u + "/progress", { headers: { "X-Poll-Respondent": s[1] } }),
        ...[...P.V].map((V) => words(langOf(V.h.dataset.lang))),
      ]);
    } catch (e) {
      return fail(P, e, again, moved);
    }
    if (doc.s != 200) return fail(P, doc, again);
    P.p = doc.b;
    P.N = {};
    P.d = {};
    for (const n of P.p.nodes) P.N[n.id] = n;
    await words(langOf(P.p.settings.language));
    // A token of an earlier version: that walk is over here; the reader meets the new one.
    if (s[0] != P.p.version) r = 0;
    else if (r && r.s != 200) {
      if (r.d.reason != "unknown_respondent") return fail(P, r, again, moved);
      save(P, (r = 0)); // the server does not know this reader: start afresh
    }
    P.t = r && s[1];
    const g = (P.g = r ? r.b : fresh(P)), st = P.p.status;
    const v = P.p.settings.results_visibility;
    P.R = g.results;
    P.e = P.q = P.w = 0;
    // A reader back on the page sees where they ended; their results are a click away, so a
    // finished poll takes no more room than its question did (nothing below it moves).
    P.c = !moved && g.finished;
    P.m = moved == 1;
    if (!P.R && !P.pv && st != "open" && (v == "public" || (v == "after_close" && st == "closed"))) await more(P);
    draw(P);
  };

  // An error that says what to do, in the reader's language.
  const fail = async (P, r, again, moved) => {
    const s = r.s, o = (r.d || {}).reason;
    // The page's CSP refusing our connection fails like the network: its event tells them apart.
    if (!s) await new Promise((f) => setTimeout(f, 99));
    P.z = s == 404; // no such published poll: nothing to say
    P.e = !s
      ? blocked
        ? { k: "blocked" }
        : { a: again, k: "network" }
      : o == "origin_not_allowed"
      ? { k: "blocked" }
      : o == "daily_cap"
      ? { k: "cap" }
      : s == 429
      ? { a: again, k: "rate", s: sec(r.r, 60) }
      : s == 503 && !P.w // busy: wait as long as the server asks, then try once more by itself
      ? (setTimeout(again, (P.w = sec(r.r, 5)) * 1e3), { k: "busy", s: P.w })
      : { a: again, k: "failed" }; // the server's words are English: the reader's own instead
    P.m = moved == 1;
    draw(P);
  };

  function mount(el) {
    const id = el.dataset.readerPoll.trim(), pv = el.dataset.previewSrc || "", th = el.dataset.theme, k = id + " " + pv;
    let root, P = polls.get(k);
    if (!id) return;
    try {
      root = el.shadowRoot || el.attachShadow({ mode: "open" });
    } catch (e) {
      return; // an element that cannot hold a shadow root: use a <div>
    }
    // The page's CSS may hide empty or unclassed divs: the poll's box stays, filling its room.
    el.style.cssText += ";display:grid!important;visibility:visible!important";
    root.adoptedStyleSheets = [sheet];
    const x = h("section", "rp" + (th == "dark" || th == "light" ? " " + th : ""));
    const V = { h: el, x, y: h("div"), l: h("p", "sr") };
    V.l.ariaLive = "polite";
    x.append(V.y, V.l);
    root.replaceChildren(x);
    const fresh = !P;
    if (fresh) polls.set(k, (P = { id, pv, u: API + encodeURIComponent(id), V: new Set() }));
    (V.P = P).V.add(V);
    paint(V);
    if (fresh) start(P);
    else words(langOf(el.dataset.lang)).then(() => paint(V));
    return () => P.V.delete(V) && !P.V.size && polls.delete(k); // a poll no copy shows is let go
  }

  // Another tab answered this poll: catch up with where the reader stands.
  addEventListener("storage", (e) => {
    const P = polls.get(String(e.key).replace(/^reader-poll:/, "") + " ");
    if (P?.p && !P.b) start(P, 2);
  });
  D.addEventListener("securitypolicyviolation", (e) => {
    if (e.blockedURI.startsWith(new URL(API).origin)) blocked = 1;
  });

  // Several pollservers on one page: the first script loaded finds every poll and hands each to
  // its server: the one data-reader-poll-server names, else the script right after the div,
  // else itself. A copy of the same script only asks it to look again.
  const R = window.ReaderPoll;
  if (R) return R.add && R.add(API, mount);
  const servers = new Map([[API, mount]]), seen = new Map();
  const scan = () =>
    D.querySelectorAll("[data-reader-poll]").forEach((el) => {
      const s = el.dataset.readerPollServer, n = el.nextElementSibling;
      const m = servers.get(s ? api(new URL(s, location)) : n && JS.test(n.src) ? api(n.src) : API);
      if (m && !seen.has(el)) seen.set(el, m(el) || Object); // what undoes it
    });
  new MutationObserver((records) => {
    // A changed poll, language, theme or server: draw that box afresh. A box taken off the page
    // is let go (a single-page site may come and go many times).
    for (const r of records) r.attributeName && seen.get(r.target)?.(seen.delete(r.target));
    seen.forEach((f, el) => el.isConnected || f(seen.delete(el)));
    scan();
  }).observe(D.documentElement, {
    childList: true,
    subtree: true,
    attributeFilter: ["data-reader-poll", "data-lang", "data-theme", "data-reader-poll-server"],
  });
  window.ReaderPoll = Object.freeze({ scan, add: (a, m) => servers.has(a) || (servers.set(a, m), scan()) });
  scan();
})();
