"""Helpers for the real-browser tests: Debian's Chromium, a host site on another port, a server.

The widget is tested as publishers use it: pollserver runs as a real server process, and the
article pages that embed the widget come from a separate little HTTP server on another port, so
every API call the widget makes is a real cross-origin request.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import create_engine, text

from pollserver.core.privacy import hash_token

from helpers import TESTS_DIR, configured_database_url, missing_service
from support import http_json

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = TESTS_DIR / "artifacts"
# Chromium reports every 4xx/5xx response and failed fetch as a console "error" of its own; those
# are the network answers under test, not errors of the page's scripts.
NETWORK_NOISE = ("Failed to load resource", "net::ERR_")


def launch_chromium(playwright):
    if not os.access(CHROMIUM, os.X_OK):
        missing_service(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def fresh_database_env(request, directory: Path) -> Iterator[dict[str, str]]:
    """Environment for ``pollserver`` on a brand-new database: PostgreSQL when the run uses it."""
    env = {
        "POLLSERVER_INSTANCE_PATH": str(directory / "instance"),
        # A prefix of its own keeps limit counters apart on a shared Redis.
        "RATELIMIT_KEY_PREFIX": f"pollserver-browser-{uuid.uuid4().hex[:8]}",
        "POLLSERVER_WORKERS": "1",
    }
    configured = configured_database_url()
    if configured and configured.startswith("postgresql"):
        postgres = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = postgres.create_database("pollserver_browser")
        try:
            yield env
        finally:
            postgres.drop_database(env["DATABASE_URL"])
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATABASE_URL", raising=False)  # the embedded default: SQLite in the instance
        env["DATABASE_URL"] = ""
        yield env


def database_url_of(env: dict[str, str]) -> str:
    return env.get("DATABASE_URL") or (
        f"sqlite:///{Path(env['POLLSERVER_INSTANCE_PATH']) / 'pollserver.sqlite3'}"
    )


@contextlib.contextmanager
def cli_app(env: dict[str, str]):
    """An app on the same database as the server, for running ``pollserver`` commands in-process."""
    from pollserver import create_app
    from pollserver.extensions import db

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            if value:
                patch.setenv(name, value)
            else:
                patch.delenv(name, raising=False)
        app = create_app()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def run_cli(app, *args: str) -> str:
    """Run a ``pollserver`` command; put ``--`` before a poll id (ids may begin with "-")."""
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


class Database:
    """Read what the server stored, straight from its database."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    def answers_of(self, token: str) -> list[tuple[str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT a.node_key, a.value FROM answers a "
                    "JOIN respondents r ON r.id = a.respondent_id "
                    "WHERE r.token_hash = :token_hash ORDER BY a.id"
                ),
                {"token_hash": hash_token(token)},
            )
            return [(node, value) for node, value in rows]

    def respondent_count(self, poll_id: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM respondents r JOIN polls p ON p.id = r.poll_id "
                    "WHERE p.public_id = :poll_id"
                ),
                {"poll_id": poll_id},
            ).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


class HostSite:
    """A publisher's site: pages held in memory, served from 127.0.0.1 on a port of its own."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        # Extra response headers per path (a page's Content-Security-Policy, say).
        self.headers: dict[str, dict[str, str]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body = site.pages.get(path)
                if body is None:
                    self.send_response(204 if self.path == "/favicon.ico" else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for name, value in site.headers.get(path, {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, body: str, *, headers: dict[str, str] | None = None) -> str:
        self.pages[path] = body
        self.headers[path] = dict(headers or {})
        return self.base_url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def host_page(body: str, *, head: str = "", title: str = "A publisher's article") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{head}</head><body><main>{body}</main></body></html>"
    )


class PageProblems:
    """Uncaught errors and console errors a page produced (network answers aside)."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith(NETWORK_NOISE):
            self.errors.append(f"console.error: {message.text}")


def shadow_text(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => el.shadowRoot ? el.shadowRoot.textContent : ''")


def focused_in_widget(page, selector: str) -> str | None:
    """The text of the element focused inside the widget's shadow root, if any."""
    return page.eval_on_selector(
        selector,
        "el => el.shadowRoot && el.shadowRoot.activeElement"
        " ? el.shadowRoot.activeElement.textContent : null",
    )


def save_screenshot(locator, name: str, **options) -> Path:
    """Save a screenshot in tests/artifacts/ (``full_page=True`` for a whole page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    locator.screenshot(path=str(path), animations="disabled", **options)
    assert path.stat().st_size > 1000, path
    return path


# --- the reader-poll widget on a page ---------------------------------------------------------


def widget(page, poll_id: str):
    """The host element of a poll's widget (its shadow root is searched by Playwright)."""
    return page.locator(f'[data-reader-poll="{poll_id}"]')


def stored_token(page, poll_id: str) -> str | None:
    """The reader's token the widget keeps (as "version:token:time") for the poll's version."""
    kept = page.evaluate(f"localStorage.getItem('reader-poll:{poll_id}')")
    return kept.split(":")[1] if kept else None


def settled(locator) -> None:
    """Wait until the widget's fade-in has finished: axe and screenshots read colours as painted."""
    locator.evaluate("el => Promise.all(el.shadowRoot.getAnimations().map(a => a.finished))")


def answer_as_other_readers(base_url: str, poll_id: str, readers: int) -> None:
    """Readers answering the two-question seed poll through the API, on a spread of paths."""
    url = f"{base_url}/api/v1/polls/{poll_id}/answers"
    for number in range(readers):
        first = "no" if number % 4 == 3 else "yes"
        status, body, _ = http_json(
            "POST", url, {"respondent": None, "node": "q1", "answer": first}
        )
        assert status == 201, body
        if body["current"]:
            second = "no" if number % 3 == 2 else "yes"
            answer = {"respondent": body["respondent"], "node": body["current"], "answer": second}
            assert http_json("POST", url, answer)[0] == 200


def change_poll_settings(env: dict[str, str], poll_id: str, **settings) -> None:
    """Change a poll's stored settings (results_visibility, allow_answer_changes, …)."""
    from pollserver.extensions import db
    from pollserver.services.polls import find_poll

    with cli_app(env) as app, app.app_context():
        poll = find_poll(db.session, poll_id)
        poll.settings = {**poll.settings, **settings}
        db.session.commit()


def import_polls(env: dict[str, str], directory: Path, definitions: list[dict]) -> dict[str, str]:
    """Import hand-written poll definitions, open them, and return their ids by title."""
    path = directory / "polls.json"
    path.write_text(json.dumps(definitions))
    with cli_app(env) as app:
        run_cli(app, "import", str(path))
        listed = {
            row["title"]: row["id"] for row in json.loads(run_cli(app, "polls", "list", "--json"))
        }
        ids = {definition["title"]: listed[definition["title"]] for definition in definitions}
        for poll_id in ids.values():
            run_cli(app, "polls", "open", "--", poll_id)
    return ids


# Collects layout shifts from the start of the page (buffered), as web-vitals counts CLS: shifts
# without recent input, summed.
LAYOUT_SHIFTS = """
window.__cls = 0;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
}).observe({type: 'layout-shift', buffered: true});
"""


def assert_no_axe_violations(page, *, in_widget: bool = True) -> None:
    """axe-core finds nothing on the whole page; ``in_widget``: the widget's shadow DOM included
    (its colours were checked there, not skipped)."""
    results = Axe().run(page, options={"resultTypes": ["violations", "passes"]})
    assert results.violations_count == 0, results.generate_report()
    if not in_widget:
        return
    checked_in_shadow = {
        rule["id"]
        for rule in results.response["passes"]
        for node in rule["nodes"]
        if any(isinstance(step, list) for step in node["target"])  # a path into a shadow root
    }
    assert "color-contrast" in checked_in_shadow, checked_in_shadow
