"""Refusals a widget can explain: which limit (and when to come back), and a page whose origin
the poll does not allow, told so in a response the page can read."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from pollserver import create_app
from pollserver.database import engine_options_for
from pollserver.extensions import db
from pollserver.models import Answer, Respondent
from pollserver.services.answering import seconds_until_next_utc_day

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article, walk

PAPER = "https://paper.example"
ELSEWHERE = "https://elsewhere.example"
NOT_AVAILABLE = "This poll is not available on this page."


def stored(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Respondent)),
            db.session.scalar(select(func.count()).select_from(Answer)),
        )


@pytest.fixture
def restricted_poll(app) -> str:
    return open_poll_from_article(
        app, SEED_WITH_FLOWCHART, results_visibility="public", allowed_origins=[PAPER]
    )


def assert_origin_refused(response, origin: str = ELSEWHERE) -> None:
    assert response.status_code == 403, response.get_json()
    assert response.get_json() == {
        "error": {
            "code": 403,
            "status": "Forbidden",
            "message": NOT_AVAILABLE,
            "details": {"reason": "origin_not_allowed", "origin": [origin]},
        }
    }
    # Readable by the page that asked: a browser would otherwise report a network error.
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"]
    assert response.headers["Timing-Allow-Origin"] == "*"


# --- origins ----------------------------------------------------------------------------------


def test_every_read_from_another_origin_is_a_readable_403(app, client, restricted_poll):
    token = walk(client, restricted_poll, [("q1", "yes"), ("q2", "no")]).get_json()["respondent"]
    elsewhere = {"Origin": ELSEWHERE}
    with_token = {**elsewhere, "X-Poll-Respondent": token}
    for path, headers in [
        (f"/api/v1/polls/{restricted_poll}", elsewhere),
        (f"/api/v1/polls/{restricted_poll}/results", elsewhere),
        (f"/api/v1/polls/{restricted_poll}/progress", with_token),
        (f"/api/v1/polls/{restricted_poll}/results", with_token),
    ]:
        assert_origin_refused(client.get(path, headers=headers))
    # The same reads from the allowed origin, or from no browser at all, are served.
    for headers in ({"Origin": PAPER}, {}):
        assert client.get(f"/api/v1/polls/{restricted_poll}", headers=headers).status_code == 200
        progress = client.get(
            f"/api/v1/polls/{restricted_poll}/progress",
            headers={**headers, "X-Poll-Respondent": token},
        )
        assert progress.status_code == 200
    assert (
        "Access-Control-Allow-Origin" not in client.get(f"/api/v1/polls/{restricted_poll}").headers
    )


def test_the_poll_document_from_memory_is_refused_to_another_origin_too(client, restricted_poll):
    # The first read puts the document (and the poll's origins) in memory...
    assert client.get(f"/api/v1/polls/{restricted_poll}").status_code == 200
    # ...which answers the next ones without the database; the origin is still checked.
    assert_origin_refused(
        client.get(f"/api/v1/polls/{restricted_poll}", headers={"Origin": ELSEWHERE})
    )


def test_an_answer_from_another_origin_is_refused_before_anything_is_written(
    app, client, restricted_poll
):
    for body in (
        {"respondent": None, "node": "q1", "answer": "yes"},
        {"respondent": None, "node": "q1", "answer": "yes", "request_key": "k" * 22},
    ):
        refused = client.post(
            f"/api/v1/polls/{restricted_poll}/answers", json=body, headers={"Origin": ELSEWHERE}
        )
        assert_origin_refused(refused)
    assert stored(app) == (0, 0)
    accepted = client.post(
        f"/api/v1/polls/{restricted_poll}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        headers={"Origin": PAPER},
    )
    assert accepted.status_code == 201
    assert accepted.headers["Access-Control-Allow-Origin"] == PAPER
    assert stored(app) == (1, 1)


def test_the_preflight_from_another_origin_passes_so_the_request_gets_the_readable_403(
    client, restricted_poll
):
    # A browser reports a refused preflight as a network error and sends nothing: the preflight
    # must pass for the page to read the refusal of the request itself.
    preflight = client.options(
        f"/api/v1/polls/{restricted_poll}/answers",
        headers={
            "Origin": ELSEWHERE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ELSEWHERE
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Origin" in preflight.headers["Vary"]


def test_the_services_own_pages_are_always_allowed(app, client, restricted_poll):
    # The share page and the iframe are served from pollserver's own origin (the test client's
    # is http://localhost): same-origin requests are never refused.
    own = {"Origin": "http://localhost"}
    assert client.get(f"/api/v1/polls/{restricted_poll}", headers=own).status_code == 200
    answered = client.post(
        f"/api/v1/polls/{restricted_poll}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        headers=own,
    )
    assert answered.status_code == 201


def test_a_poll_open_to_every_origin_refuses_none(client, seed_poll_id):
    response = client.get(f"/api/v1/polls/{seed_poll_id}", headers={"Origin": ELSEWHERE})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_public_api_responses_allow_timing_to_any_origin(client, seed_poll_id):
    first = client.get(f"/api/v1/polls/{seed_poll_id}")
    cached = client.get(
        f"/api/v1/polls/{seed_poll_id}", headers={"If-None-Match": first.headers["ETag"]}
    )
    answered = walk(client, seed_poll_id, [("q1", "no")])
    unknown = client.get("/api/v1/polls/NOSUCHID", headers={"Origin": ELSEWHERE})
    results = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    statuses = [response.status_code for response in (first, cached, answered, unknown, results)]
    assert statuses == [200, 304, 201, 404, 200]
    for response in (first, cached, answered, unknown, results):
        assert response.headers["Timing-Allow-Origin"] == "*"


# --- limits -----------------------------------------------------------------------------------


def answer_from(client, poll_id: str, address: str, **body):
    return client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes", **body},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_per_minute_limit_says_rate_limit_and_when(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_ANSWERS="2/minute",
        RATELIMIT_PUBLIC="2/minute",
    )
    app = create_app(app_config)
    client = app.test_client()
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    for _ in range(2):
        assert answer_from(client, poll_id, "198.51.100.80").status_code == 201
    reads = [
        client.get("/api/v1/polls/NOSUCHID", environ_base={"REMOTE_ADDR": "198.51.100.81"})
        for _ in range(3)
    ]
    assert [read.status_code for read in reads[:2]] == [404, 404]
    for limited in (answer_from(client, poll_id, "198.51.100.80"), reads[2]):
        assert limited.status_code == 429
        error = limited.get_json()["error"]
        assert error["message"] == "Too many requests from your network; try again later."
        assert error["details"] == {"reason": "rate_limit", "limit": "2 per 1 minute"}
        assert 0 < int(limited.headers["Retry-After"]) <= 60
    with app.app_context():
        db.engine.dispose()


def test_the_daily_cap_says_daily_cap_and_retry_after_midnight_utc(app, client):
    # Where no proof of work is asked, beyond the cap is a no until tomorrow.
    app.config["POLLSERVER_PROOF_OF_WORK_BITS"] = 0
    app.config["RESPONDENTS_PER_ADDRESS_PER_DAY"] = 1
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    assert answer_from(client, poll_id, "198.51.100.90").status_code == 201
    capped = answer_from(client, poll_id, "198.51.100.90")
    assert capped.status_code == 429
    error = capped.get_json()["error"]
    assert error["message"].endswith("try again tomorrow.")
    assert error["details"] == {
        "reason": "daily_cap",
        "limit": "1 new readers per address per poll per day",
    }
    expected = seconds_until_next_utc_day(dt.datetime.now(dt.UTC))
    assert expected - 5 <= int(capped.headers["Retry-After"]) <= expected


def test_seconds_until_midnight_utc_by_hand():
    at = dt.datetime(2031, 5, 17, 23, 58, 30, tzinfo=dt.UTC)
    assert seconds_until_next_utc_day(at) == 90
    # Midnight is UTC's, whatever the zone the time is given in (22:00 in UTC-2 is midnight).
    minus_two = dt.timezone(dt.timedelta(hours=-2))
    assert seconds_until_next_utc_day(dt.datetime(2031, 5, 17, 21, 0, tzinfo=minus_two)) == 3600


# --- the database ------------------------------------------------------------------------------


def test_an_unreachable_database_is_503_with_retry_after(app_config, tmp_path):
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no' / 'such.db'}"}
    )
    response = app.test_client().get("/api/v1/polls/anything")
    assert response.status_code == 503
    assert response.get_json()["error"]["message"] == (
        "The database is unavailable; try again shortly."
    )
    assert int(response.headers["Retry-After"]) > 0
    with app.app_context():
        db.engine.dispose()


def test_no_connection_free_in_time_is_503_with_retry_after(app_config, database_url):
    app = create_app(
        {
            **app_config,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                **engine_options_for(database_url),
                "pool_size": 1,
                "max_overflow": 0,
                "pool_timeout": 0.2,
            },
        }
    )
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection, busy elsewhere
        try:
            response = app.test_client().get(f"/api/v1/polls/{poll_id}/progress")
        finally:
            held.close()
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        # Free again: served.
        assert app.test_client().get(f"/api/v1/polls/{poll_id}").status_code == 200
        db.engine.dispose()
