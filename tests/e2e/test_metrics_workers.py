"""Prometheus metrics through the real server: any worker reports the whole service."""

from __future__ import annotations

import re
import urllib.request

import pytest

from helpers import open_poll_id, served_database_url
from metrics_support import value
from support import PollserverProcess, http_json


@pytest.mark.server
def test_any_worker_reports_the_whole_service(tmp_path, serve_env):
    env = {
        **serve_env,
        "RATELIMIT_ENABLED": "false",
        "RESPONDENTS_PER_ADDRESS_PER_DAY": "1000",
        # Load, not a surge of readers: no proof of work.
        "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
    }
    with PollserverProcess(env, args=("--workers", "2")).start(tmp_path / "serve.log") as server:
        poll_id = open_poll_id(served_database_url(env))
        for _ in range(12):
            status, _, _ = http_json(
                "POST",
                f"{server.base_url}/api/v1/polls/{poll_id}/answers",
                {"respondent": None, "node": "q1", "answer": "no"},
            )
            assert status == 201
        scrapes = []
        for _ in range(4):  # whichever worker answers, the totals are the service's
            with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
                scrapes.append(response.read().decode())
    for text_body in scrapes:
        assert value(text_body, "pollserver_answers_recorded_total", kind="new_reader") == 12
        assert re.search(r'endpoint="polls.PollAnswers"', text_body)
