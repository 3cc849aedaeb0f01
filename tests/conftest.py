"""Fixtures: an app on an isolated database per test, its client and CLI runner, and real services.

The backend comes from ``DATABASE_URL``: unset means a fresh SQLite file per test; a PostgreSQL
URL means one throwaway database for the session, emptied after every test. Under ``CI=true`` a
test that needs PostgreSQL, Redis or Chromium fails when the service is missing instead of
skipping: skips are only for a laptop that lacks them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pollserver import create_app, models  # noqa: F401  (models fill db.metadata)
from pollserver.config import normalise_database_url
from pollserver.extensions import db

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "seeds"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def missing_service(reason: str) -> None:
    """Skip on a laptop without the service; fail under CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


def _postgres_reachable(url: str) -> str | None:
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = normalise_database_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    problem = _postgres_reachable(url)
    if problem:
        missing_service(f"PostgreSQL not reachable at {url}: {problem}")
    server = PostgresServer(url)
    yield server
    server.engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as error:
        missing_service(f"Redis not reachable at {url}: {type(error).__name__}")
    return url


def configured_database_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return normalise_database_url(url) if url else None


@pytest.fixture(scope="session")
def session_database_url(request) -> Iterator[str | None]:
    """One throwaway PostgreSQL database for the run when DATABASE_URL names PostgreSQL."""
    url = configured_database_url()
    if not url or not url.startswith("postgresql"):
        yield None
        return
    server = PostgresServer(url)
    database_url = server.create_database()
    engine = create_engine(database_url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield database_url
    server.drop_database(database_url)
    server.engine.dispose()


def empty_all_tables(engine) -> None:
    names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(session_database_url, tmp_path) -> Iterator[str]:
    if session_database_url:
        yield session_database_url
        engine = create_engine(session_database_url)
        empty_all_tables(engine)
        engine.dispose()
        return
    path = tmp_path / "pollserver-test.sqlite3"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def instance_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "instance"
    monkeypatch.setenv("POLLSERVER_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def app_config(database_url, instance_path) -> dict:
    """Config for a test app; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Limits are off unless a test is about them (it turns them on in app_config).
        "RATELIMIT_ENABLED": False,
        # A per-test prefix keeps limit counters apart when the storage is a shared Redis.
        "RATELIMIT_KEY_PREFIX": f"pollserver-test-{uuid.uuid4().hex[:8]}",
        "POLLSERVER_SEEDS_DIR": str(SEEDS_DIR),
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


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
        outcome = import_article(db.session, builder.read_article(path))
        poll = outcome.polls[0]
        poll.settings = {**poll.settings, **settings}
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        return poll.public_id


@pytest.fixture
def seed_poll_id(app) -> str:
    """The seeds/001 poll, open, with results public so tests can read them."""
    return open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")


@pytest.fixture
def serve_env(tmp_path, request, monkeypatch) -> Iterator[dict[str, str]]:
    """Environment for ``pollserver serve`` on a brand-new, empty database of the configured kind.

    SQLite: a new file in a fresh instance folder. PostgreSQL: a new throwaway database.
    """
    env = {"POLLSERVER_INSTANCE_PATH": str(tmp_path / "serve-instance")}
    configured = configured_database_url()
    if configured and configured.startswith("postgresql"):
        postgres = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = postgres.create_database("pollserver_serve")
        yield env
        postgres.drop_database(env["DATABASE_URL"])
        return
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield env


def served_database_url(env: dict[str, str]) -> str:
    """The database a server started with ``env`` uses."""
    if "DATABASE_URL" in env:
        return normalise_database_url(env["DATABASE_URL"])
    return f"sqlite:///{Path(env['POLLSERVER_INSTANCE_PATH']) / 'pollserver.sqlite3'}"


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


def open_poll_id(database_url: str) -> str:
    """The one open poll in a served database (the seed poll ``pollserver serve`` opened)."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        poll_id = connection.execute(
            text("SELECT public_id FROM polls WHERE status = 'open'")
        ).scalar_one()
    engine.dispose()
    return poll_id
