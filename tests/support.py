"""Helpers for tests that run pollserver as a real server process on 127.0.0.1."""

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


def worker_pids(master_pid: int) -> list[int]:
    """The workers of a server we started (its direct children)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


POSTGRES_BIN = Path("/usr/lib/postgresql")


class OwnPostgres:
    """A PostgreSQL server of the test's own, in a temporary folder, on a free port.

    Restarting it disturbs nobody else's database. As root the server runs as the ``postgres``
    user (PostgreSQL refuses to run as root).
    """

    def __init__(self):
        versions = sorted(POSTGRES_BIN.glob("*/bin/pg_ctl")) if POSTGRES_BIN.exists() else []
        if not versions:
            raise FileNotFoundError(
                "PostgreSQL server binaries not found under /usr/lib/postgresql"
            )
        self.bin = versions[-1].parent
        self.port = free_port()
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="pollserver-pg-"))
        self.data = self.folder / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            import shutil

            shutil.chown(self.folder, user="postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=check)

    def _server_options(self) -> str:
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> OwnPostgres:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            self._server_options(),
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def run_pollserver(*args: str, instance_path, **environment: str) -> subprocess.CompletedProcess:
    """The installed ``pollserver`` run once, on the embedded defaults and this instance folder."""
    # These checks need no database or Redis server: the embedded defaults are enough.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "RATELIMIT_STORAGE_URI")
    }
    env.update(POLLSERVER_INSTANCE_PATH=str(instance_path), **environment)
    return subprocess.run(
        [pollserver_executable(), *args], capture_output=True, text=True, timeout=60, env=env
    )
