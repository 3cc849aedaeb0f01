/*! pollserver widget extras | MIT
 * What only some readers need, imported by widget.js when it is needed, so that every other
 * reader is not sent it: the proof-of-work solver and the desk preview's walk.
 */

// The server asks a new reader for work (a 429 whose details.reason is "proof_of_work"): find a
// nonce such that PBKDF2-HMAC-SHA256(password = challenge, salt = nonce, iterations) begins
// with `difficulty` zero bits. Each try runs its iterations natively in Web Crypto, as fast as
// an attacker's own code would; eight tries at a time keep busy every core the browser gives
// Web Crypto.
export const work = async ({ challenge, difficulty, iterations }) => {
  const enc = new TextEncoder();
  const subtle = crypto.subtle;
  const key = await subtle.importKey("raw", enc.encode(challenge), "PBKDF2", false, ["deriveBits"]);
  const zeros = (bits) => {
    let n = 0;
    for (const x of new Uint8Array(bits)) {
      if (x) return n + Math.clz32(x) - 24;
      n += 8;
    }
    return n;
  };
  for (let i = 0; ; i += 8) {
    const tries = [];
    for (let j = i; j < i + 8; j++) {
      const salt = enc.encode(String(j));
      tries.push(
        subtle
          .deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256)
          .then((bits) => zeros(bits) >= difficulty && String(j))
      );
    }
    const nonce = (await Promise.all(tries)).find(Boolean);
    if (nonce) return { challenge, nonce };
  }
};

// Where the desk's preview leads (nothing is sent), worked out here as the server would: the
// reader's progress after answering `a` to question `q`, given the poll's state P (its nodes N
// and the progress g so far).
export const walk = (P, q, a) => {
  const p = P.g.path, i = p.findIndex((s) => s.node == q), o = [];
  const path = [...(i < 0 ? p : p.slice(0, i)), { node: q, answer: a }];
  let n = P.N[q][a];
  if (n && P.N[n].type == "question") return { path, current: n, outcomes: o };
  for (; n; n = P.N[n].next) o.push(n);
  return { path, finished: 1, outcomes: o };
};
