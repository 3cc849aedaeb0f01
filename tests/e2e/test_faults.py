"""Parts fail under load and nothing acknowledged is lost: a killed worker, a restarted database,
SQLite shared by two server processes. Each test is bounded to a few seconds of load."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message

import pytest
from sqlalchemy import create_engine, text

from helpers import missing_service, open_poll_id, served_database_url
from support import OwnPostgres, PollserverProcess, http_json, worker_pids

pytestmark = pytest.mark.server

LOAD_THREADS = 8


@dataclass
class LoadRecord:
    acknowledged: list[str] = field(default_factory=list)  # tokens of 2xx replies
    statuses: Counter = field(default_factory=Counter)
    unavailable_replies: list[tuple[dict | None, Message]] = field(default_factory=list)
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def run_answer_load(
    base_urls: list[str], poll_id: str, seconds: float, record: LoadRecord, follow_up: bool = False
) -> None:
    """New readers answering q1 (and q2 when ``follow_up``) from several threads at once."""
    deadline = time.monotonic() + seconds

    def reader_loop(thread_number: int) -> None:
        turn = 0
        while time.monotonic() < deadline:
            base_url = base_urls[(thread_number + turn) % len(base_urls)]
            turn += 1
            try:
                status, body, headers = http_json(
                    "POST",
                    f"{base_url}/api/v1/polls/{poll_id}/answers",
                    {"respondent": None, "node": "q1", "answer": "yes"},
                )
            except (OSError, http.client.HTTPException):  # the worker died mid-reply
                with record.lock:
                    record.connection_errors += 1
                time.sleep(0.05)
                continue
            with record.lock:
                record.statuses[status] += 1
                if status == 201:
                    record.acknowledged.append(body["respondent"])
                elif status == 503:
                    record.unavailable_replies.append((body, headers))
            if status == 201 and follow_up:
                other = base_urls[turn % len(base_urls)]
                try:
                    status, _, _ = http_json(
                        "POST",
                        f"{other}/api/v1/polls/{poll_id}/answers",
                        {"respondent": body["respondent"], "node": "q2", "answer": "no"},
                    )
                except (OSError, http.client.HTTPException):
                    continue
                with record.lock:
                    record.statuses[status] += 1

    threads = [threading.Thread(target=reader_loop, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
        assert not thread.is_alive(), "a request hung"


def stored_token_hashes(database_url: str) -> Counter:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.token_hash FROM respondents r JOIN answers a ON a.respondent_id = r.id "
                "WHERE a.node_key = 'q1'"
            )
        )
        hashes = Counter(row[0] for row in rows)
    engine.dispose()
    return hashes


def assert_every_acknowledged_answer_stored_once(record: LoadRecord, database_url: str) -> None:
    stored = stored_token_hashes(database_url)
    assert record.acknowledged, "the load produced no acknowledged answers"
    for token in record.acknowledged:
        assert stored[hashlib.sha256(token.encode()).hexdigest()] == 1


def test_a_worker_killed_mid_load_loses_nothing_acknowledged(tmp_path, serve_env):
    env = {
        **serve_env,
        "RATELIMIT_ENABLED": "false",
        "RESPONDENTS_PER_ADDRESS_PER_DAY": "100000",
        # Load, not a surge of readers: no proof of work.
        "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
    }
    server = PollserverProcess(env, args=("--workers", "2")).start(tmp_path / "serve.log")
    try:
        database_url = served_database_url(env)
        poll_id = open_poll_id(database_url)
        record = LoadRecord()
        load = threading.Thread(
            target=run_answer_load, args=([server.base_url], poll_id, 4.0, record)
        )
        load.start()
        time.sleep(1.5)
        victims = worker_pids(server.process.pid)
        assert len(victims) == 2
        os.kill(victims[0], signal.SIGKILL)
        load.join()

        assert_every_acknowledged_answer_stored_once(record, database_url)
        assert set(record.statuses) <= {201}, record.statuses
        # The service keeps serving: the server replaced the worker, and answers still go in.
        deadline = time.monotonic() + 20
        while len(worker_pids(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(worker_pids(server.process.pid)) == 2
        assert victims[0] not in worker_pids(server.process.pid)
        status, _, _ = http_json(
            "POST",
            f"{server.base_url}/api/v1/polls/{poll_id}/answers",
            {"respondent": None, "node": "q1", "answer": "no"},
        )
        assert status == 201
    finally:
        server.stop()


@pytest.mark.postgres
def test_a_postgresql_restart_mid_load_gives_503s_then_recovers_by_itself(tmp_path, instance_path):
    try:
        postgres = OwnPostgres().start()
    except (FileNotFoundError, OSError) as error:
        missing_service(f"cannot run a PostgreSQL server of the test's own: {error}")
    try:
        env = {
            "POLLSERVER_INSTANCE_PATH": str(tmp_path / "serve-instance"),
            "DATABASE_URL": postgres.url,
            "RATELIMIT_ENABLED": "false",
            "RESPONDENTS_PER_ADDRESS_PER_DAY": "100000",
            "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
        }
        server = PollserverProcess(env, args=("--workers", "2")).start(tmp_path / "serve.log")
        try:
            poll_id = open_poll_id(postgres.url)
            record = LoadRecord()
            load = threading.Thread(
                target=run_answer_load, args=([server.base_url], poll_id, 7.0, record)
            )
            load.start()
            time.sleep(1.5)
            postgres.stop()
            time.sleep(2.0)  # an outage long enough for the load to meet it
            postgres.start()
            load.join()

            assert record.statuses[503] > 0, record.statuses
            assert set(record.statuses) <= {201, 503}, record.statuses
            assert record.connection_errors == 0
            for body, headers in record.unavailable_replies:
                assert body["error"]["code"] == 503
                assert body["error"]["status"] == "Service Unavailable"
                assert int(headers["Retry-After"]) > 0
            # Recovered without a restart: the last second of load was all 201s, and more go in.
            status, _, _ = http_json(
                "POST",
                f"{server.base_url}/api/v1/polls/{poll_id}/answers",
                {"respondent": None, "node": "q1", "answer": "no"},
            )
            assert status == 201
            assert_every_acknowledged_answer_stored_once(record, postgres.url)
        finally:
            server.stop()
        assert "Traceback" not in server.log()
    finally:
        postgres.destroy()


def test_sqlite_shared_by_two_server_processes_never_reports_a_lock(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = {
        "POLLSERVER_INSTANCE_PATH": str(tmp_path / "shared-instance"),
        "RATELIMIT_ENABLED": "false",
        "RESPONDENTS_PER_ADDRESS_PER_DAY": "100000",
        "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
        "POLLSERVER_THREADS": "8",
    }
    first = PollserverProcess(env).start(tmp_path / "first.log")
    second = PollserverProcess(env, args=("--no-seed",)).start(tmp_path / "second.log")
    try:
        database_url = served_database_url(env)
        poll_id = open_poll_id(database_url)
        record = LoadRecord()
        run_answer_load([first.base_url, second.base_url], poll_id, 4.0, record, follow_up=True)
    finally:
        first.stop()
        second.stop()
    assert set(record.statuses) <= {200, 201}, record.statuses
    assert record.connection_errors == 0
    assert_every_acknowledged_answer_stored_once(record, database_url)
    for log in (first.log(), second.log()):
        assert "database is locked" not in log
        assert "Traceback" not in log
