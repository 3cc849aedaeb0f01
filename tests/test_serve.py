"""``pollserver serve`` really serves: gunicorn, migrations on start, Ctrl-C stops it cleanly."""

from __future__ import annotations

import subprocess

import pytest
from conftest import configured_database_url
from sqlalchemy import create_engine, inspect
from support import PollserverProcess, http_json, pollserver_executable

pytestmark = pytest.mark.server


@pytest.fixture
def serve_env(tmp_path, request, monkeypatch):
    """Environment for a server on a brand-new, empty database, so serve must migrate it."""
    env = {"POLLSERVER_INSTANCE_PATH": str(tmp_path / "serve-instance")}
    configured = configured_database_url()
    if configured and configured.startswith("postgresql"):
        postgres = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = postgres.create_database("pollserver_serve")
        yield env
        postgres.drop_database(env["DATABASE_URL"])
        return
    # The embedded default: SQLite in the instance folder.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield env


def test_serve_migrates_an_empty_database_answers_healthz_and_stops_on_ctrl_c(tmp_path, serve_env):
    server = PollserverProcess(serve_env).start(tmp_path / "serve.log")
    try:
        status, body, _ = http_json("GET", f"{server.base_url}/healthz")
        assert status == 200
        assert body == {"status": "ok", "database": "ok"}
        status, body, _ = http_json("GET", f"{server.base_url}/nowhere")
        assert status == 404
        assert body["error"]["code"] == 404
    finally:
        exit_status = server.stop()
    assert exit_status == 0, server.log()
    log = server.log()
    assert "Booting worker" in log
    assert "Traceback" not in log

    if "DATABASE_URL" in serve_env:
        url = serve_env["DATABASE_URL"]
    else:
        url = f"sqlite:///{tmp_path / 'serve-instance' / 'pollserver.sqlite3'}"
    engine = create_engine(url)
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_access_log_holds_no_client_address(tmp_path, serve_env):
    server = PollserverProcess(serve_env).start(tmp_path / "serve.log")
    try:
        http_json("GET", f"{server.base_url}/healthz", headers={"User-Agent": "UniqueAgent/9.9"})
    finally:
        server.stop()
    log = server.log()
    assert "GET /healthz" in log
    assert "127.0.0.1 -" not in log and "UniqueAgent" not in log


def test_several_workers_on_in_memory_limits_are_refused_with_a_reason(tmp_path, serve_env):
    import os

    result = subprocess.run(
        [pollserver_executable(), "serve", "--workers", "3"],
        env={**os.environ, **serve_env, "RATELIMIT_STORAGE_URI": "memory://"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RATELIMIT_STORAGE_URI=redis://" in result.stderr
    assert "Traceback" not in result.stderr
