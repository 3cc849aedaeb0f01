"""``pollserver serve`` really serves: Granian, migrations on start, Ctrl-C stops it cleanly."""

from __future__ import annotations

import socket
import subprocess

import pytest
from sqlalchemy import create_engine, inspect, text

from helpers import served_database_url
from support import PollserverProcess, http_json, pollserver_executable

pytestmark = pytest.mark.server


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
    assert "Started worker-1" in log
    assert "Traceback" not in log

    engine = create_engine(served_database_url(serve_env))
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def open_polls(env) -> list[tuple[str, str]]:
    engine = create_engine(served_database_url(env))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT public_id, title FROM polls WHERE status = 'open'"))
        polls = [tuple(row) for row in rows]
    engine.dispose()
    return polls


def test_serve_seeds_an_empty_database_with_live_polls(tmp_path, serve_env):
    with PollserverProcess(serve_env).start(tmp_path / "serve.log") as server:
        polls = open_polls(serve_env)
        assert [title for _, title in polls] == ["A Fragile Alliance Forged in Fire"]
        status, body, _ = http_json("GET", f"{server.base_url}/api/v1/polls/{polls[0][0]}")
        assert status == 200
        assert body["status"] == "open"
    assert "opened 1 poll(s)" in server.log()


def test_serve_no_seed_starts_empty(tmp_path, serve_env):
    with PollserverProcess(serve_env, args=("--no-seed",)).start(tmp_path / "serve.log"):
        assert open_polls(serve_env) == []


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


def test_serve_opens_no_control_socket_shared_with_other_servers(tmp_path, serve_env):
    """No control socket nor any other file at a per-user path that every server of that user on
    the host would share (gunicorn 27 opens ~/.gunicorn/gunicorn.ctl): pollserver needs none."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**serve_env, "HOME": str(home), "XDG_RUNTIME_DIR": ""}
    with PollserverProcess(env).start(tmp_path / "serve.log") as server:
        status, _, _ = http_json("GET", f"{server.base_url}/healthz")
        assert status == 200
        created = [str(path) for path in home.rglob("*")]
    assert created == []
    assert "control" not in server.log().lower()


def test_a_malformed_request_is_refused_without_its_client_or_content_in_the_log(
    tmp_path, serve_env
):
    marker = "Zq7Marker"
    server = PollserverProcess(serve_env).start(tmp_path / "serve.log")
    try:
        host, port = server.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(f"GET /healthz?{marker}=1 HTTP/1.1 extra\r\n\r\n".encode())
            reply = connection.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400"), reply
    finally:
        server.stop()
    log = server.log()
    assert "127.0.0.1" not in log.split("Listening at")[-1].split("\n", 1)[-1]
    assert marker not in log
