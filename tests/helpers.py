"""Plain helpers and constants shared by tests in every folder (conftest.py holds the fixtures).

Paths are computed from this file, which stays at the top of ``tests/``, so they hold wherever
a test module sits below it.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pollserver.config import normalise_database_url
from pollserver.extensions import db

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SEEDS_DIR = REPO_ROOT / "seeds"
# Hand-made article fixtures for the builder and the article API.
ARTICLES_DIR = TESTS_DIR / "articles"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def missing_service(reason: str) -> None:
    """Skip on a laptop without the service; fail under CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


# --- databases ---------------------------------------------------------------------------------


def postgres_reachable(url: str) -> str | None:
    """None when a PostgreSQL server answers at ``url``, else why not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure means "not usable here"
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


class PostgresServer:
    """Makes and drops throwaway databases on one PostgreSQL server."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def create_database(self, prefix: str = "pollserver_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def configured_database_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return normalise_database_url(url) if url else None


def empty_all_tables(engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def served_database_url(env: dict[str, str]) -> str:
    """The database a server started with ``env`` uses."""
    if "DATABASE_URL" in env:
        return normalise_database_url(env["DATABASE_URL"])
    return f"sqlite:///{Path(env['POLLSERVER_INSTANCE_PATH']) / 'pollserver.sqlite3'}"


def open_poll_id(database_url: str) -> str:
    """The one open poll in a served database (the seed poll ``pollserver serve`` opened)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        poll_id = connection.execute(
            text("SELECT public_id FROM polls WHERE status = 'open'")
        ).scalar_one()
    engine.dispose()
    return poll_id


# --- the seed articles -------------------------------------------------------------------------

SEED_WITH_FLOWCHART = SEEDS_DIR / "001_3297866220564658.txt"
# What the builder must make of seeds/001: the definition DESIGN.md shows.
SEED_DEFINITION = {
    "title": "A Fragile Alliance Forged in Fire",
    "root": "q1",
    "nodes": [
        {
            "id": "q1",
            "type": "question",
            "text": "Russia allowed North Korean military in Ukraine?",
            "yes": "q2",
            "no": None,
        },
        {
            "id": "q2",
            "type": "question",
            "text": "Was the operation a good result?",
            "yes": "o1",
            "no": "o2",
        },
        {"id": "o1", "type": "outcome", "text": "Operation had a good result", "next": "o3"},
        {"id": "o2", "type": "outcome", "text": "Operation failed", "next": "o4"},
        {
            "id": "o3",
            "type": "outcome",
            "text": "North Korean military given due recognition",
            "next": None,
        },
        {
            "id": "o4",
            "type": "outcome",
            "text": "North Korean military not given due recognition",
            "next": None,
        },
    ],
}
SEED_WITHOUT_FLOWCHART = SEEDS_DIR / "000_1434c06255666429.txt"


def open_poll_from_article(app, path: Path, **settings) -> str:
    """Import an article, open its first poll with the given settings, return its public id."""
    from pollserver.core import builder
    from pollserver.core.lifecycle import PollStatus
    from pollserver.services.articles import import_article
    from pollserver.services.polls import change_status

    with app.app_context():
        outcome = import_article(db.session, builder.read_article(path), "tests")
        poll = outcome.polls[0]
        poll.settings = {**poll.settings, **settings}
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        return poll.public_id


# --- the desk, as a browser without JavaScript uses it -------------------------------------------

HTML = {"Accept": "text/html"}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(app, secret: str, **client_options):
    """A new browser, signed in at /admin with ``secret``; returns it and its CSRF token."""
    browser = app.test_client(**client_options)
    form = browser.get("/admin/", headers=HTML)
    response = browser.post(
        "/admin/sign-in", data={"token": secret, "csrf_token": csrf_of(form.get_data(as_text=True))}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = browser.get("/admin/polls", headers=HTML)
    return browser, csrf_of(page.get_data(as_text=True))


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def walk(client, poll_id: str, steps, address: str | None = None, **request_options):
    """One reader answering ``steps`` through the public API (from ``address`` when given).

    Returns the last reply; its ``respondent`` is the reader's token.
    """
    if address is not None:
        request_options["environ_base"] = {"REMOTE_ADDR": address}
    token, reply = None, None
    for node, answer in steps:
        reply = client.post(
            f"/api/v1/polls/{poll_id}/answers",
            json={"respondent": token, "node": node, "answer": answer},
            **request_options,
        )
        assert reply.status_code in (200, 201), reply.get_json()
        token = reply.get_json()["respondent"]
    return reply


def limited_app(app_config: dict, **limits: str):
    """A test app with rate limits on, counted in memory, and the given ``RATELIMIT_*`` settings."""
    from pollserver import create_app

    return create_app(
        {**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", **limits}
    )
