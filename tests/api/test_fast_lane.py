"""The fast lane (pollserver.fast_lane) answers readers' common requests without Flask's
request cycle, and as the views would: the same bodies, headers, limits and refusals. Anything
unusual reaches the views untouched.

Every other API test goes through the lane too (Flask's test client calls ``app.wsgi_app``);
these tests say which requests it takes, and that its answers match the views' where both can
answer the same request.
"""

from __future__ import annotations

import os

import pytest
from flask import request
from sqlalchemy import func, select
from werkzeug.test import Client

from pollserver import create_app
from pollserver.extensions import db, limiter
from pollserver.fast_lane import FastLane
from pollserver.models import Respondent

from helpers import SEED_WITH_FLOWCHART, limited_app, open_poll_from_article

PAGE = "https://paper.example"
ANSWER = {"respondent": None, "node": "q1", "answer": "yes"}


@pytest.fixture
def views_seen(app) -> list[str]:
    """The endpoints of the requests that went through Flask's request cycle."""
    seen: list[str] = []

    @app.before_request
    def note_view():
        seen.append(request.endpoint or "")

    return seen


@pytest.fixture
def views_client(app):
    """A client of the Flask app behind the lane: the same requests, through the views."""
    lane = app.wsgi_app
    assert isinstance(lane, FastLane)
    return Client(lane.flask_wsgi_app, response_wrapper=app.response_class)


def count_respondents(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Respondent))


def comparable(headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name not in ("Date",)}


def test_a_common_answer_skips_the_request_cycle_and_replies_as_the_view(
    app, client, views_client, views_seen
):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, allowed_origins=[PAGE])
    fast = client.post(f"/api/v1/polls/{poll_id}/answers", json=ANSWER, headers={"Origin": PAGE})
    assert views_seen == []
    assert fast.status_code == 201
    assert fast.headers["Cache-Control"] == "no-store"
    assert fast.headers["Access-Control-Allow-Origin"] == PAGE
    assert fast.headers["Vary"] == "Origin"
    assert fast.headers["Timing-Allow-Origin"] == "*"
    assert "ETag" not in fast.headers
    progress = fast.get_json()
    assert progress["current"] == "q2" and progress["finished"] is False
    assert progress["path"] == [{"node": "q1", "answer": "yes"}]

    # The same answer through the view.
    through_view = views_client.post(
        f"/api/v1/polls/{poll_id}/answers", json=ANSWER, headers={"Origin": PAGE}
    )
    assert views_seen == ["polls.PollAnswers"]
    assert through_view.status_code == 201
    assert comparable(through_view.headers) == comparable(fast.headers)
    assert through_view.get_json().keys() == progress.keys()
    assert through_view.get_json()["current"] == "q2"

    # A retry with the token: 200 from the lane, nothing stored twice.
    token = progress["respondent"]
    retry = client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={**ANSWER, "respondent": token},
        headers={"Origin": PAGE},
    )
    assert retry.status_code == 200 and retry.get_json()["respondent"] == token
    assert views_seen == ["polls.PollAnswers"]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"respondent": null, "node": "q1"}', {"Content-Type": "application/json"}, 422),
        (b'{"respondent": null, "node": "q1", "answer": "yes", "x": 1}', {}, 422),
        (b"[", {"Content-Type": "application/json"}, 400),
        (
            b'{"respondent": null, "node": "q1", "answer": "yes"}',
            {"Content-Type": "text/plain"},
            422,
        ),
        (b"{" + b" " * 3000 + b"}", {"Content-Type": "application/json"}, 413),
        ('{"respondent": null, "node": "q1", "answer": "yes"}'.encode("utf-16"), {}, 400),
    ],
    ids=["missing-field", "unknown-field", "broken-json", "not-json", "too-big", "utf-16"],
)
def test_a_body_the_lane_does_not_take_reaches_the_view_intact(
    app, client, views_seen, body, headers, status
):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    headers = {"Content-Type": "application/json", **headers}
    response = client.post(f"/api/v1/polls/{poll_id}/answers", data=body, headers=headers)
    assert views_seen == ["polls.PollAnswers"]
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == status


def test_paths_the_views_do_not_route_are_not_answered_by_the_lane(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    for path in (f"/api/v1/polls/{poll_id}/answers%0A", f"/api/v1/polls/{poll_id}/answers/"):
        response = client.post(path, json=ANSWER)
        assert response.status_code in (404, 308), path
    assert count_respondents(app) == 0


def test_refusals_from_the_lane_have_the_one_error_shape(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    unknown = client.post("/api/v1/polls/no-such-poll/answers", json=ANSWER)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["message"].startswith("No poll")
    not_current = client.post(f"/api/v1/polls/{poll_id}/answers", json={**ANSWER, "node": "q2"})
    assert not_current.status_code == 409
    assert not_current.get_json()["error"]["code"] == 409
    assert not_current.headers["Cache-Control"] == "no-store"
    assert views_seen == []


def test_an_origin_the_poll_refuses_is_left_to_the_view(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, allowed_origins=[PAGE])
    refused = client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json=ANSWER,
        headers={"Origin": "https://other.example"},
    )
    assert refused.status_code == 403
    assert refused.get_json()["error"]["details"]["reason"] == "origin_not_allowed"
    assert views_seen == ["polls.PollAnswers"]
    # The service's own pages are not refused, from the lane either.
    own = client.post(
        f"/api/v1/polls/{poll_id}/answers", json=ANSWER, headers={"Origin": "http://localhost"}
    )
    assert own.status_code == 201
    assert views_seen == ["polls.PollAnswers"]


@pytest.fixture
def two_answers_a_minute(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        # The configured storage when there is one (Redis in CI), so the lane's counting is
        # tested on it too.
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_ANSWERS="2/minute;100/day",
    )
    return app_config


def test_the_lane_and_flask_limiter_count_answers_on_the_same_counters(
    two_answers_a_minute, app, client, views_seen
):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    url = f"/api/v1/polls/{poll_id}/answers"
    address = {"REMOTE_ADDR": "198.51.100.40"}
    assert client.post(url, json=ANSWER, environ_base=address).status_code == 201  # lane
    invalid = client.post(url, json={"node": "q1"}, environ_base=address)  # view: counted
    assert invalid.status_code == 422
    assert views_seen == ["polls.PollAnswers"]
    limited = client.post(url, json=ANSWER, environ_base=address)  # lane: over the limit
    assert views_seen == ["polls.PollAnswers"]
    assert limited.status_code == 429
    error = limited.get_json()["error"]
    assert error["details"] == {"reason": "rate_limit", "limit": "2 per 1 minute"}
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Cache-Control"] == "no-store"
    # ... and flask-limiter sees the lane's count.
    assert client.post(url, json={"node": "q1"}, environ_base=address).status_code == 429
    # Another address is not affected; only the two accepted answers were stored.
    other = client.post(url, json=ANSWER, environ_base={"REMOTE_ADDR": "198.51.100.41"})
    assert other.status_code == 201
    assert count_respondents(app) == 2


def test_with_other_limits_configured_answers_go_through_flask_limiter(app_config):
    app = limited_app(app_config, RATELIMIT_APPLICATION="1000/minute")
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    seen: list[str] = []
    app.before_request(lambda: seen.append("view"))
    response = app.test_client().post(f"/api/v1/polls/{poll_id}/answers", json=ANSWER)
    assert response.status_code == 201
    assert seen == ["view"]
    assert limiter.enabled


def test_reads_from_memory_skip_the_request_cycle_and_match_the_views(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, allowed_origins=[PAGE])
    origin = {"Origin": PAGE}
    first = client.get(f"/api/v1/polls/{poll_id}", headers=origin)  # the view fills memory
    second = client.get(f"/api/v1/polls/{poll_id}", headers=origin)  # the lane
    assert views_seen == ["polls.PublicPoll"]
    assert second.status_code == 200
    assert second.data == first.data
    assert comparable(second.headers) == comparable(first.headers)
    assert second.headers["Cache-Control"] == "public, max-age=30"
    revalidated = client.get(
        f"/api/v1/polls/{poll_id}", headers={**origin, "If-None-Match": first.headers["ETag"]}
    )
    assert revalidated.status_code == 304 and revalidated.data == b""
    assert revalidated.headers["ETag"] == first.headers["ETag"]
    assert views_seen == ["polls.PublicPoll"]

    # A reader's token, a query string or an origin the poll refuses: the views answer.
    client.get(f"/api/v1/polls/{poll_id}", headers={**origin, "X-Poll-Respondent": "x" * 20})
    client.get(f"/api/v1/polls/{poll_id}?fresh=1", headers=origin)
    refused = client.get(f"/api/v1/polls/{poll_id}", headers={"Origin": "https://other.example"})
    assert refused.status_code == 403
    assert views_seen == ["polls.PublicPoll"] * 4


def test_results_from_memory_skip_the_request_cycle_and_match_the_view(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")
    first = client.get(f"/api/v1/polls/{poll_id}/results")
    second = client.get(f"/api/v1/polls/{poll_id}/results")
    assert first.status_code == second.status_code == 200
    assert views_seen == ["polls.PollResults"]
    assert second.data == first.data
    assert comparable(second.headers) == comparable(first.headers)


def test_hidden_results_are_refused_by_the_view(app, client, views_seen):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="after_close")
    for _ in range(2):
        hidden = client.get(f"/api/v1/polls/{poll_id}/results")
        assert hidden.status_code == 403
    assert views_seen == ["polls.PollResults"] * 2


def test_widget_js_from_the_lane_matches_the_view(app, client, views_seen):
    lane = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    view = client.get("/widget.js?fresh=1", headers={"Accept-Encoding": "gzip"})
    assert views_seen == ["embed.widget_js"]
    assert lane.status_code == view.status_code == 200
    assert lane.data == view.data
    assert lane.headers["Content-Encoding"] == "gzip"
    assert comparable(lane.headers) == comparable(view.headers)
    again = client.get(
        "/widget.js", headers={"Accept-Encoding": "gzip", "If-None-Match": lane.headers["ETag"]}
    )
    assert again.status_code == 304
    # The same tag from a client that takes no gzip: not what it would get, so not a 304.
    plain = client.get("/widget.js", headers={"If-None-Match": lane.headers["ETag"]})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert views_seen == ["embed.widget_js"]


def test_an_unreachable_database_is_the_views_503(app_config, tmp_path):
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no' / 'such.db'}"}
    )
    response = app.test_client().post(
        "/api/v1/polls/anything/answers", json=ANSWER, headers={"Origin": PAGE}
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == 503
    with app.app_context():
        db.engine.dispose()


def test_a_refused_origin_is_never_let_through_while_the_database_is_down(app_config, tmp_path):
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no' / 'such.db'}"}
    )
    response = app.test_client().post(
        "/api/v1/polls/anything/answers", json=ANSWER, headers={"Origin": "https://other.example"}
    )
    assert response.status_code == 503  # not stored on the strength of an unread origin list
