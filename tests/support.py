"""Helpers for tests that run pollserver as a real gunicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pollserver_executable() -> str:
    """The console script installed beside the running interpreter."""
    candidate = Path(sys.executable).with_name("pollserver")
    return str(candidate) if candidate.exists() else "pollserver"


def http_json(method: str, url: str, body: object = None, headers: dict | None = None):
    """(status, parsed JSON or None, headers) for one request; never raises on HTTP errors."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            raw = response.read()
            status, response_headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, response_headers = error.read(), error.code, error.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, response_headers


class PollserverProcess:
    """``pollserver serve`` in a subprocess; stopped with Ctrl-C (SIGINT) like a user would."""

    def __init__(self, env: dict[str, str], args: tuple[str, ...] = (), port: int | None = None):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.args = args
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self, log_path: Path) -> PollserverProcess:
        self.log_path = log_path
        log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [pollserver_executable(), "serve", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pollserver exited early:\n{self.log()}")
            try:
                status, _, _ = http_json("GET", f"{self.base_url}/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pollserver did not answer /healthz in time:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> int | None:
        """Send Ctrl-C to the process we started and wait for it; return its exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            raise

    def __enter__(self) -> PollserverProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
