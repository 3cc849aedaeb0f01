"""What proof of work costs a real reader, a farm of fake ones, and the server.

    python bench/proof_of_work.py [--bits 9 10 11 12] [--proofs 40]

For each difficulty, on this machine, in the same run:

- a reader's browser: Debian's Chromium (headless, through Playwright) importing the widget's own
  solver (``widget/extras.js`` as built) from a page on 127.0.0.1, solving ``--proofs`` fresh
  challenges; the wall time of each, as a reader waits it;
- a stuffer's own code: the same search in CPython's ``hashlib.pbkdf2_hmac`` (OpenSSL's native
  SHA-256), on one core; CPU seconds per proof, and per thousand fake readers;
- the reference the solver was chosen against: the same number of SHA-256 tries made one
  ``crypto.subtle.digest()`` call each (a hashcash over plain SHA-256 in the browser), as a ratio
  to the native speed of the same tries;
- the server: CPU time to check one proof.

Beyond the daily cap, the work grows by one bit for each fourfold
(``pollserver.core.proof_of_work.bits_beyond_cap``); the last table prices the 1,000 new readers
from one address after its first 50 (cap 50) at the default difficulty, in a stuffer's native
CPU time. Each figure is a median, or a mean where it says so: a proof's tries follow a
geometric distribution, so single proofs vary a lot. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pollserver.core import proof_of_work as pow_  # noqa: E402
from pollserver.widget_build import EXTRAS, build_widget  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SECRET = "bench-secret"
DEFAULT_BITS = 11  # POLLSERVER_PROOF_OF_WORK_BITS's default

SOLVE_IN_PAGE = """
async ([challenges, difficulty, iterations]) => {
  const { work } = await import("/extras.js");
  const seconds = [];
  for (const challenge of challenges) {
    const started = performance.now();
    await work({ challenge, difficulty, iterations });
    seconds.push((performance.now() - started) / 1000);
  }
  return seconds;
}
"""
# The reference: plain SHA-256 tries, one digest() call each, eight at a time as the solver does.
DIGESTS_IN_PAGE = """
async (tries) => {
  const enc = new TextEncoder();
  const started = performance.now();
  for (let i = 0; i < tries; i += 8) {
    const batch = [];
    for (let j = i; j < i + 8; j++)
      batch.push(crypto.subtle.digest("SHA-256", enc.encode("c." + j)));
    await Promise.all(batch);
  }
  return tries / ((performance.now() - started) / 1000);
}
"""
PBKDF2_IN_PAGE = """
async (rounds) => {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw", enc.encode("c"), "PBKDF2", false, ["deriveBits"]
  );
  const started = performance.now();
  const batch = [];
  for (let j = 0; j < 8; j++) {
    const salt = enc.encode("" + j);
    const algorithm = { name: "PBKDF2", hash: "SHA-256", salt, iterations: rounds / 8 };
    batch.push(crypto.subtle.deriveBits(algorithm, key, 256));
  }
  await Promise.all(batch);
  return rounds / ((performance.now() - started) / 1000);
}
"""


def serve_solver(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    built = build_widget(ROOT / "widget").file(EXTRAS)
    (folder / "extras.js").write_bytes(built.body)
    (folder / "index.html").write_text("<!doctype html><title>proof of work</title>")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def native_seconds_per_proof(bits: int, proofs: int) -> float:
    """Mean CPU seconds per proof in CPython's hashlib (one core)."""
    started = time.process_time()
    for _ in range(proofs):
        pow_.solve(pow_.issue_challenge(SECRET, "bench", bits, time.time()))
    return (time.process_time() - started) / proofs


def native_rounds_per_second() -> float:
    started = time.process_time()
    hashlib.pbkdf2_hmac("sha256", b"c", b"1", 2_000_000)
    return 2_000_000 / (time.process_time() - started)


def native_digests_per_second() -> float:
    started = time.process_time()
    for number in range(400_000):
        hashlib.sha256(b"c.%d" % number).digest()
    return 400_000 / (time.process_time() - started)


def check_seconds(bits: int) -> float:
    challenge = pow_.issue_challenge(SECRET, "bench", bits, time.time())
    nonce = pow_.solve(challenge)
    started = time.process_time()
    for _ in range(200):
        pow_.check_proof(SECRET, "bench", challenge, nonce, time.time())
    return (time.process_time() - started) / 200


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[9, 10, 11, 12])
    parser.add_argument("--proofs", type=int, default=40)
    arguments = parser.parse_args()

    import tempfile

    from playwright.sync_api import sync_playwright

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(f"{time.strftime('%Y-%m-%d')} · {machine()} · commit {commit} · {chromium.strip()}")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        server, url = serve_solver(Path(folder))
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.goto(url)
        browser_rounds = statistics.median(
            page.evaluate(PBKDF2_IN_PAGE, 4_000_000) for _ in range(3)
        )
        browser_digests = statistics.median(
            page.evaluate(DIGESTS_IN_PAGE, 100_000) for _ in range(3)
        )
        native_rounds = statistics.median(native_rounds_per_second() for _ in range(3))
        native_digests = statistics.median(native_digests_per_second() for _ in range(3))
        print()
        print(
            "| SHA-256 work per second | browser (Web Crypto) | native (one core) "
            "| browser ÷ native |"
        )
        print("|---|---|---|---|")
        print(
            f"| PBKDF2 rounds, the solver's | {browser_rounds / 1e6:.2f} M | "
            f"{native_rounds / 1e6:.2f} M | {browser_rounds / native_rounds:.2f} |"
        )
        print(
            f"| digest() calls, the reference | {browser_digests / 1e6:.3f} M | "
            f"{native_digests / 1e6:.2f} M | {browser_digests / native_digests:.3f} |"
        )
        print()
        print(
            "| bits | tries (expected) | reader's browser, s per proof: median · mean · p90 "
            "| stuffer's CPU, s per proof (mean) | per 1,000 fake readers, CPU s "
            "| server's check, ms |"
        )
        print("|---|---|---|---|---|---|")
        for bits in arguments.bits:
            challenges = [
                pow_.issue_challenge(SECRET, "bench", bits, time.time())
                for _ in range(arguments.proofs)
            ]
            seconds = page.evaluate(SOLVE_IN_PAGE, [challenges, bits, pow_.ITERATIONS])
            native = native_seconds_per_proof(bits, max(10, arguments.proofs // 2))
            deciles = statistics.quantiles(seconds, n=10)
            print(
                f"| {bits} | {2**bits:,} | {statistics.median(seconds):.2f} · "
                f"{statistics.fmean(seconds):.2f} · {deciles[-1]:.2f} | {native:.3f} | "
                f"{1000 * native:,.0f} | {1000 * check_seconds(bits):.2f} |"
            )
        browser.close()
        server.shutdown()
    # 1,000 readers from one address after the first 50, cap 50, at the default difficulty.
    expected_rounds = sum(
        2 ** pow_.bits_beyond_cap(started, 50, DEFAULT_BITS) * pow_.ITERATIONS
        for started in range(50, 1050)
    )
    print()
    print(
        f"1,000 new readers from one address beyond a cap of 50 at {DEFAULT_BITS} bits: "
        f"{expected_rounds / native_rounds:,.0f} CPU s of native work expected "
        f"({expected_rounds / native_rounds / 1000:.2f} s per fake reader), "
        f"against {2**DEFAULT_BITS * pow_.ITERATIONS / native_rounds:.2f} s for the first "
        "reader beyond the cap."
    )


if __name__ == "__main__":
    main()
