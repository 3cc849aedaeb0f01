"""Answers through the real server: concurrency, limits shared in Redis, Redis going away."""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from helpers import configured_database_url, missing_service, open_poll_id, served_database_url
from support import PollserverProcess, free_port, http_json

pytestmark = pytest.mark.server

CONCURRENT_REQUESTS = 50


def query_one(env, sql: str, **params):
    engine = create_engine(served_database_url(env))
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def post_answer(base_url, poll_id, node, answer, token=None, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return http_json(
        "POST",
        f"{base_url}/api/v1/polls/{poll_id}/answers",
        {"respondent": token, "node": node, "answer": answer},
        headers=headers,
    )


def test_concurrent_requests_store_each_answer_once_and_each_new_reader(tmp_path, serve_env):
    env = {
        **serve_env,
        "RATELIMIT_ENABLED": "false",
        "RESPONDENTS_PER_ADDRESS_PER_DAY": "1000",
        # Load, not a surge of readers: no proof of work.
        "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
    }
    configured = configured_database_url()
    args = ("--workers", "3") if configured and configured.startswith("postgresql") else ()
    with PollserverProcess(env, args=args).start(tmp_path / "serve.log") as server:
        poll_id = open_poll_id(served_database_url(env))
        status, first, _ = post_answer(server.base_url, poll_id, "q1", "yes")
        assert status == 201
        token = first["respondent"]

        with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
            same_reader = list(
                pool.map(
                    lambda _: post_answer(server.base_url, poll_id, "q2", "yes", token),
                    range(CONCURRENT_REQUESTS),
                )
            )
        assert sorted({status for status, _, _ in same_reader}) == [200]
        assert all(body["outcomes"] == ["o1", "o3"] for _, body, _ in same_reader)

        with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
            new_readers = list(
                pool.map(
                    lambda _: post_answer(server.base_url, poll_id, "q1", "no"),
                    range(CONCURRENT_REQUESTS),
                )
            )
        assert sorted({status for status, _, _ in new_readers}) == [201]
        assert len({body["respondent"] for _, body, _ in new_readers}) == CONCURRENT_REQUESTS

    assert "Traceback" not in server.log()
    assert query_one(env, "SELECT count(*) FROM answers WHERE node_key = 'q2'") == 1
    assert query_one(env, "SELECT count(*) FROM respondents") == 1 + CONCURRENT_REQUESTS
    assert query_one(env, "SELECT count(*) FROM answers") == 2 + CONCURRENT_REQUESTS
    # The running tallies agree with the rows, under concurrency.
    assert query_one(env, "SELECT sum(value) FROM result_counters WHERE counter = 'started'") == (
        1 + CONCURRENT_REQUESTS
    )
    assert query_one(env, "SELECT sum(value) FROM result_counters WHERE counter = 'no:q1'") == (
        CONCURRENT_REQUESTS
    )


class OwnRedis:
    """A redis-server of this test's own on a free port, so stopping it disturbs no one else."""

    def __init__(self):
        if not shutil.which("redis-server"):
            missing_service("redis-server is not installed")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ):
                return self
            time.sleep(0.1)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def key_count(self) -> int:
        output = subprocess.run(
            ["redis-cli", "-p", str(self.port), "dbsize"], capture_output=True, text=True
        ).stdout
        return int(output.strip())


@pytest.mark.redis
def test_limits_are_shared_across_workers_and_survive_redis_going_away(tmp_path, serve_env):
    redis = OwnRedis().start()
    env = {
        **serve_env,
        "RATELIMIT_STORAGE_URI": redis.url,
        "RATELIMIT_STORAGE_OPTIONS": "socket_timeout=1,socket_connect_timeout=1",
        "RATELIMIT_ANSWERS": "5/minute",
        # Behind one trusted proxy, X-Forwarded-For names the client: one address per phase.
        "TRUSTED_PROXY_COUNT": "1",
    }
    try:
        with PollserverProcess(env, args=("--workers", "3")).start(tmp_path / "s.log") as server:
            poll_id = open_poll_id(served_database_url(env))

            # Phase 1: the limit holds across three worker processes.
            statuses = [
                post_answer(server.base_url, poll_id, "q1", "yes", forwarded_for="198.51.100.1")
                for _ in range(6)
            ]
            assert [status for status, _, _ in statuses[:5]] == [201] * 5
            status, body, headers = statuses[5]
            assert status == 429
            assert body["error"]["code"] == 429
            assert 0 < int(headers["Retry-After"]) <= 60
            assert redis.key_count() > 0

            # Phase 2: Redis stops; answers keep flowing on per-process memory limits.
            redis.stop()
            during_outage = [
                post_answer(server.base_url, poll_id, "q1", "no", forwarded_for="198.51.100.2")[0]
                for _ in range(3)
            ]
            assert during_outage == [201, 201, 201]

            # Phase 3: Redis returns (empty); the service goes back to it by itself.
            redis.start()
            deadline = time.monotonic() + 40
            while redis.key_count() == 0 and time.monotonic() < deadline:
                status, _, _ = post_answer(
                    server.base_url, poll_id, "q1", "no", forwarded_for="198.51.100.3"
                )
                assert status in (201, 429)
                time.sleep(0.5)
            assert redis.key_count() > 0, "the limiter never went back to Redis"
        log = server.log()
        assert "Traceback" not in log
        assert " 500 " not in log
    finally:
        redis.stop()
