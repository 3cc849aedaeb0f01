"""Build pollserver's wheel, install it in a throwaway venv outside the checkout, start it once.

What a publisher deploying the package gets must work on its own: migrations run from inside
the installed package, the widget's files come prebuilt in the wheel (minified, gzip and brotli,
pollserver/widget/dist/) and are what /widget.js serves, the demo pages show the sample articles
when a seeds folder is given (POLLSERVER_SEEDS_DIR), /healthz is ok, and Ctrl-C (SIGINT) stops it.
Run by .ci/run; exits non-zero, saying why, on any failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from email.message import Message
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 60


def run(*command: str | Path, **kwargs) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get_bytes(url: str, headers: dict[str, str]) -> tuple[int, Message, bytes]:
    """Status, headers (read case-insensitively: the server sends lowercase names) and body."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers, response.read()


# Run by the installed package's Python: the prebuilt files match the sources shipped beside
# them (so the server serves them and builds nothing); prints the file the server serves.
PREBUILT_CHECK = """
import json, sys
from pollserver.config import shipped_folder
from pollserver.widget_build import read_build
folder = shipped_folder("widget")
build = read_build(folder)
if build is None:
    sys.exit(f"the prebuilt widget files in {folder}/dist do not match the sources shipped")
print(json.dumps({"path": str(folder / "dist" / build.file("widget.js").path)}))
"""


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="pollserver-wheel-"))
    # setuptools builds in the checkout's build/: what an older build left there must not ride
    # along into this wheel.
    shutil.rmtree(CHECKOUT / "build", ignore_errors=True)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", CHECKOUT)
    (wheel,) = (work / "dist").glob("pollserver-*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    prebuilt = [name for name in shipped if name.startswith("pollserver/widget/dist/")]
    print("prebuilt widget files in the wheel:", *sorted(prebuilt), sep="\n  ", flush=True)
    run(sys.executable, "-m", "venv", work / "venv")
    run(work / "venv" / "bin" / "pip", "install", "-q", wheel)
    found = subprocess.run(
        [str(work / "venv" / "bin" / "python"), "-c", PREBUILT_CHECK],
        cwd=work,
        capture_output=True,
        text=True,
    )
    print(found.stdout + found.stderr, end="", flush=True)
    prebuilt_widget = Path(json.loads(found.stdout)["path"]) if found.returncode == 0 else None

    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "RATELIMIT_STORAGE_URI", "PYTHONPATH")
    }
    env.update(
        POLLSERVER_INSTANCE_PATH=str(work / "instance"),
        POLLSERVER_SEEDS_DIR=str(CHECKOUT / "seeds"),
        POLLSERVER_PORT=str(port),
    )
    # Started from an empty folder: nothing of the checkout is on its path.
    server = subprocess.Popen(
        [str(work / "venv" / "bin" / "pollserver"), "serve"], cwd=work, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if server.poll() is not None:
                print(f"pollserver serve exited with {server.returncode}", file=sys.stderr)
                return 1
            try:
                status, body = get(f"{base}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    print("pollserver serve did not answer in time", file=sys.stderr)
                    return 1
                time.sleep(0.3)
        index = get(f"{base}/")[1]
        article = re.search(r'href="(/articles/[a-z0-9-]+)">A Fragile Alliance', index)
        article_page = get(f"{base}{article.group(1)}")[1] if article else ""
        served = {
            encoding: get_bytes(f"{base}/widget.js", {"Accept-Encoding": encoding})
            for encoding in ("br", "gzip", "identity")
        }
        checks = {
            "/healthz is ok": status == 200 and '"ok"' in body,
            "the wheel carries the widget's files prebuilt": {
                "pollserver/widget/dist/manifest.json",
                "pollserver/widget/widget.js",
            }
            <= set(shipped)
            and sum(name.endswith(".br") for name in prebuilt) >= 3
            and sum(name.endswith(".gz") for name in prebuilt) >= 3,
            "the prebuilt files match the sources installed": prebuilt_widget is not None,
            "/widget.js serves them, brotli, gzip or plain": prebuilt_widget is not None
            and all(
                status == 200
                and headers.get("Content-Encoding", "identity") == encoding
                and data == Path(f"{prebuilt_widget}{suffix}").read_bytes()
                for (encoding, suffix), (status, headers, data) in zip(
                    (("br", ".br"), ("gzip", ".gz"), ("identity", "")),
                    served.values(),
                    strict=True,
                )
            ),
            "the demo index lists the sample article": "A Fragile Alliance Forged in Fire" in index,
            "its page carries the open seed poll": "data-reader-poll=" in article_page,
        }
        for name, passed in checks.items():
            print(f"{'ok  ' if passed else 'FAIL'} {name}", flush=True)
        if not all(checks.values()):
            return 1
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            print("pollserver serve did not stop on SIGINT", file=sys.stderr)
            return 1
    print(f"wheel smoke start passed ({wheel.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
