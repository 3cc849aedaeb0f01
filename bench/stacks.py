"""The comparison stacks bench/load.py measures beside pollserver, each started by the harness.

- jawanndenn (a Django + gunicorn poll app, installed from the package index into a virtualenv
  of its own under the cache folder), on SQLite, with one poll made through its own form;
- the fixed stack reference: bench/reference_app.py (plain Flask) on gunicorn;
- pollserver's own app on the servers its own was chosen against: gunicorn (gthread) and
  Granian's WSGI interface.

Every server listens on a free port of 127.0.0.1 and is stopped by its pid (Ctrl-C, then a
kill if it does not stop in time). Versions are pinned here, so that runs compare like with like.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import ClassVar

BENCH = Path(__file__).resolve().parent
JAWANNDENN_REQUIREMENTS = ["jawanndenn==4.0.0", "gunicorn==27.0.1"]
STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to 127.0.0.1 (no redirect followed): status, headers, body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class ServerProcess:
    """A server command in a subprocess of ours, ready once ``ready_path`` answers 200."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], port: int, ready_path: str
    ):
        self.name = name
        self.command = command
        self.env = env
        self.port = port
        self.ready_path = ready_path
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self, log_path: Path) -> ServerProcess:
        self.log_path = log_path
        log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                if request(self.port, "GET", self.ready_path)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} in time:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def run_quiet(command: list[str], **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def installed_versions(python: str, names: list[str], path: Path | None = None) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    env = {**os.environ}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return json.loads(run_quiet([python, "-c", code, *names], env=env))


# --- jawanndenn -------------------------------------------------------------------------------


# jawanndenn's settings leave SQLite's transactions deferred: with several threads, a write that
# finds another in progress fails at once with "database is locked" (most votes at 8 threads).
# Served with threads, it gets what a Django site on SQLite needs for them (Django ≥ 5.1).
THREADED_SETTINGS = """from jawanndenn.settings import *  # noqa: F403

DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}  # noqa: F405
"""


class Jawanndenn:
    """jawanndenn 4 on SQLite under gunicorn, one yes/no poll in it.

    ``threads=1``: as its own launcher (``jawanndenn``) serves it, one sync worker. ``threads=8``:
    one gthread worker × 8 threads as pollserver's default, with IMMEDIATE transactions and a
    busy timeout (THREADED_SETTINGS), without which most votes fail.
    """

    def __init__(self, cache: Path, workdir: Path, threads: int = 1):
        self.threads = threads
        self.label = (
            "jawanndenn, SQLite, gunicorn 1 sync worker (as its launcher)"
            if threads == 1
            else f"jawanndenn, SQLite, gunicorn 1×{threads}, IMMEDIATE transactions"
        )
        self.venv = cache / "jawanndenn-venv"
        self.workdir = workdir / f"jawanndenn-{threads}"
        self.database = self.workdir / "jawanndenn.sqlite3"
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.server: ServerProcess | None = None
        self.slug = ""
        self.form_token = ""
        self.cookie = ""
        self.versions: dict[str, str] = {}

    def install(self) -> dict[str, str]:
        python = self.venv / "bin" / "python"
        wanted = dict(requirement.split("==") for requirement in JAWANNDENN_REQUIREMENTS)
        if python.exists():
            try:
                if installed_versions(str(python), list(wanted)) == wanted:
                    self.versions = installed_versions(
                        str(python), ["jawanndenn", "Django", "gunicorn"]
                    )
                    return self.versions
            except Exception:  # a broken virtualenv: made again below
                pass
        run_quiet([sys.executable, "-m", "venv", "--clear", str(self.venv)])
        run_quiet([str(python), "-m", "pip", "install", "-q", *JAWANNDENN_REQUIREMENTS])
        self.versions = installed_versions(str(python), ["jawanndenn", "Django", "gunicorn"])
        return self.versions

    def env(self) -> dict[str, str]:
        settings = {"DJANGO_SETTINGS_MODULE": "jawanndenn.settings"}
        if self.threads > 1:
            (self.workdir / "threaded_settings.py").write_text(THREADED_SETTINGS)
            settings = {
                "DJANGO_SETTINGS_MODULE": "threaded_settings",
                "PYTHONPATH": str(self.workdir),
            }
        return {
            **settings,
            "PATH": os.environ.get("PATH", ""),
            "JAWANNDENN_SECRET_KEY": secrets.token_urlsafe(40),
            "JAWANNDENN_SQLITE_FILE": str(self.database),
            "JAWANNDENN_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Its default (40 votes per poll) is a demo limit; a reader poll takes far more.
            "JAWANNDENN_MAX_VOTES_PER_POLL": "100000000",
            "PYTHONHASHSEED": "random",  # its own launcher insists on hash randomisation
        }

    def start(self) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        bin_dir = self.venv / "bin"
        run_quiet([str(bin_dir / "django-admin"), "migrate", "--noinput"], env=env)
        # As its own launcher does (``jawanndenn`` runs gunicorn on jawanndenn.wsgi, one worker
        # for SQLite), without its access log and without a shared control socket.
        workers = ["--workers=1"]
        if self.threads > 1:
            workers += [f"--threads={self.threads}", "--worker-class=gthread", "--keep-alive=5"]
        command = [
            str(bin_dir / "gunicorn"),
            *workers,
            f"--bind=127.0.0.1:{self.port}",
            "--no-control-socket",
            "--name=jawanndenn",
            "jawanndenn.wsgi",
        ]
        self.server = ServerProcess("jawanndenn", command, env, self.port, "/").start(
            self.workdir / "server.log"
        )
        self.create_poll()
        return self.server

    def _page(self, path: str) -> str:
        headers = {"Cookie": f"csrftoken={self.cookie}"} if self.cookie else {}
        status, response_headers, body = request(self.port, "GET", path, headers=headers)
        if status != 200:
            raise RuntimeError(f"jawanndenn GET {path}: {status}")
        cookie = re.search(r"csrftoken=([^;]+)", response_headers.get("Set-Cookie", ""))
        if cookie:
            self.cookie = cookie.group(1)
        page = body.decode()
        self.form_token = re.search(r"DJANGO_CSRF_TOKEN = '([^']+)'", page).group(1)
        return page

    def create_poll(self) -> None:
        """Make the poll as its front page's form does, then open the poll's page."""
        self._page("/")
        config = {
            "title": "Should the city close the old bridge to cars?",
            "options": ["Yes", "No"],
        }
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": self.form_token, "config": json.dumps(config)}
        ).encode()
        status, headers, body = request(
            self.port,
            "POST",
            "/create",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={self.cookie}",
                "Origin": self.origin,
                "Referer": f"{self.origin}/",
            },
        )
        if status != 302:
            raise RuntimeError(f"jawanndenn did not create the poll: {status} {body[:300]!r}")
        self.slug = headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        self._page(f"/poll/{self.slug}")  # the voter's page: the token its form posts

    @property
    def vote_path(self) -> str:
        return f"/vote/{self.slug}"

    def wrk_args(self) -> list[str]:
        return [self.form_token, self.cookie, self.origin]

    def stored(self) -> tuple[int, int]:
        """(ballots, votes) stored for the poll, read from its SQLite file."""
        with sqlite3.connect(self.database) as connection:
            ballots = connection.execute(
                "SELECT count(*) FROM jawanndenn_ballot b JOIN jawanndenn_poll p "
                "ON b.poll_id = p.id WHERE p.slug = ?",
                (self.slug,),
            ).fetchone()[0]
            votes = connection.execute(
                "SELECT count(*) FROM jawanndenn_vote v JOIN jawanndenn_ballot b "
                "ON v.ballot_id = b.id JOIN jawanndenn_poll p ON b.poll_id = p.id "
                "WHERE p.slug = ?",
                (self.slug,),
            ).fetchone()[0]
        return ballots, votes

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def gunicorn_gthread_command(port: int, app: str, *options: str) -> list[str]:
    """gunicorn as the reference and the server comparison run it: 1 gthread worker × 8."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers=1",
        "--threads=8",
        "--worker-class=gthread",
        "--keep-alive=5",
        "--no-control-socket",
        f"--bind=127.0.0.1:{port}",
        *options,
        app,
    ]


# --- the plain Flask reference ----------------------------------------------------------------


class Reference:
    label = "reference: Flask hello, gunicorn 1×8"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.server: ServerProcess | None = None

    def start(self) -> ServerProcess:
        command = gunicorn_gthread_command(
            self.port, "reference_app:app", "--name=reference", f"--chdir={BENCH}"
        )
        env = {**os.environ}
        self.server = ServerProcess("reference", command, env, self.port, "/").start(
            self.workdir / "reference.log"
        )
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


# --- pollserver's app on the servers it was chosen against ------------------------------------


class AppOnServer:
    """pollserver's app (``pollserver.app:create_app``), 1 worker × 8 threads, on a server it is
    not served with, on the database a ``pollserver serve`` already prepared: the servers that
    pollserver's own (Granian through its RSGI interface, pollserver.server) was chosen against.
    """

    SERVERS: ClassVar[dict[str, str]] = {
        "gunicorn": "pollserver, SQLite, gunicorn gthread 1×8",
        "granian-wsgi": "pollserver, SQLite, Granian WSGI 1×8",
    }

    def __init__(self, server: str, workdir: Path):
        self.kind = server
        self.label = self.SERVERS[server]
        self.workdir = workdir
        self.port = free_port()
        self.server: ServerProcess | None = None

    def start(self, app_env: dict[str, str]) -> ServerProcess:
        if self.kind == "gunicorn":
            command = gunicorn_gthread_command(self.port, "pollserver.app:create_app()")
        else:
            command = [
                sys.executable,
                "-m",
                "granian",
                "--interface=wsgi",
                "--factory",
                "--no-ws",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--workers=1",
                "--blocking-threads=8",
                "pollserver.app:create_app",
            ]
        self.server = ServerProcess(self.kind, command, app_env, self.port, "/livez").start(
            self.workdir / f"{self.kind}.log"
        )
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
