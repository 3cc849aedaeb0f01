"""Fixtures: an app on an isolated database per test, its client and CLI runner, and real services.

The backend comes from ``DATABASE_URL``: unset means a fresh SQLite file per test; a PostgreSQL
URL means one throwaway database for the session, emptied after every test. Under ``CI=true`` a
test that needs PostgreSQL, Redis or Chromium fails when the service is missing instead of
skipping: skips are only for a laptop that lacks them.

Only fixtures live here; the plain helpers and constants tests import are in helpers.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openapi_conformance import ConformingClient
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine

from pollserver import create_app, models  # noqa: F401  (models fill db.metadata)
from pollserver.config import normalise_database_url
from pollserver.core.roles import TokenRole
from pollserver.extensions import db
from pollserver.services.tokens import create_token

from browser_support import HostSite, PageProblems, launch_chromium
from helpers import (
    DEFAULT_POSTGRES_URL,
    DEFAULT_REDIS_URL,
    SEED_WITH_FLOWCHART,
    SEEDS_DIR,
    PostgresServer,
    configured_database_url,
    empty_all_tables,
    missing_service,
    open_poll_from_article,
    postgres_reachable,
)

# Every app's test client checks each API response against the app's OpenAPI document.
Flask.test_client_class = ConformingClient


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = normalise_database_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    problem = postgres_reachable(url)
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
        # Where links point: the test client's own host.
        "POLLSERVER_PUBLIC_URL": "http://localhost",
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


@pytest.fixture
def tokens(app) -> dict[str, str]:
    """One token per role, by role name."""
    with app.app_context():
        secrets = {
            str(role): create_token(db.session, f"{role}-token", role)[1] for role in TokenRole
        }
        db.session.commit()
    return secrets


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, shared by a module's browser tests (a module may define its own)."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def host():
    """A publisher's site on a port of its own, shared by a module's browser tests."""
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A page whose uncaught errors and console errors fail the test."""
    page = context.new_page()
    page.problems = PageProblems(page)
    yield page
    assert page.problems.errors == []
