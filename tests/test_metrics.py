"""Prometheus metrics in one app: by endpoint, pollserver's own counters, the token.

tests/e2e/test_metrics_workers.py checks them across the server's workers."""

from __future__ import annotations

from pollserver import create_app
from pollserver.extensions import db

from helpers import SEED_WITH_FLOWCHART, limited_app, open_poll_from_article
from metrics_support import value


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_a_request_no_route_matches_is_labelled_unrouted(client):
    assert client.get("/no/such/page").status_code == 404
    text = scrape(client)
    count = "pollserver_http_request_duration_seconds_count"
    assert value(text, count, endpoint="unrouted", status="404") == 1
    assert 'endpoint="None"' not in text


def test_a_public_read_over_its_limit_is_counted_as_public(app_config, seed_poll_id):
    app = limited_app(app_config, RATELIMIT_PUBLIC="1/minute")
    client = app.test_client()
    for _ in range(3):
        client.get("/api/v1/polls/not-a-poll")  # read from the database: counted
    text = scrape(client)
    assert value(text, "pollserver_rate_limited_total", limit="public") == 2
    assert value(text, "pollserver_rate_limited_total", limit="answers") == 0
    with app.app_context():
        db.engine.dispose()


def test_metrics_say_one_charset_and_parse_in_both_formats(client, seed_poll_id):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
    from prometheus_client.parser import text_string_to_metric_families

    client.get(f"/api/v1/polls/{seed_poll_id}")
    text = client.get("/metrics")
    # One charset: Prometheus logged "mime: duplicate parameter name" at two.
    assert text.headers["Content-Type"].count("charset") == 1
    assert text.headers["Content-Type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(text.get_data(as_text=True))}
    assert "pollserver_http_request_duration_seconds" in names
    asked = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert asked.headers["Content-Type"].startswith("application/openmetrics-text")
    assert asked.headers["Content-Type"].count("charset") == 1
    body = asked.get_data(as_text=True)
    assert body.endswith("# EOF\n")
    assert "pollserver_answers_recorded" in {family.name for family in openmetrics(body)}


def test_metrics_count_requests_by_endpoint_and_answers_by_kind(client, seed_poll_id):
    client.get(f"/api/v1/polls/{seed_poll_id}")
    reply = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
    )
    token = reply.get_json()["respondent"]
    client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "yes"},
    )
    client.post(  # a retry: stored nothing, counts nothing
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "yes"},
    )
    text = scrape(client)
    assert value(text, "pollserver_answers_recorded_total", kind="new_reader") == 1
    assert value(text, "pollserver_answers_recorded_total", kind="next") == 1
    requests_by_endpoint = "pollserver_http_request_duration_seconds_count"
    assert value(text, requests_by_endpoint, endpoint="polls.PublicPoll") == 1
    assert value(text, requests_by_endpoint, endpoint="polls.PollAnswers", status="201") == 1
    assert value(text, requests_by_endpoint, endpoint="polls.PollAnswers", status="200") == 2
    assert value(text, "pollserver_http_request_total") >= 4
    assert seed_poll_id not in text  # grouped by endpoint: no time series per poll
    assert value(text, "pollserver_limiter_fallback_active") == 0


def test_metrics_count_429s_by_limit(app_config):
    app = limited_app(app_config, RATELIMIT_ANSWERS="1/minute")
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    client = app.test_client()
    for _ in range(3):
        client.post(
            f"/api/v1/polls/{poll_id}/answers",
            json={"respondent": None, "node": "q1", "answer": "yes"},
        )
    app.config["RESPONDENTS_PER_ADDRESS_PER_DAY"] = 1
    text = scrape(client)
    assert value(text, "pollserver_rate_limited_total", limit="answers") == 2
    assert value(text, "pollserver_answers_recorded_total", kind="changed") == 0
    # Every limit is there from the start, at 0, by name.
    for name in ("public", "auth_failures", "respondents_per_address_per_day", "proof_of_work"):
        assert value(text, "pollserver_rate_limited_total", limit=name) == 0
    with app.app_context():
        db.engine.dispose()


def test_metrics_count_database_errors(app_config, tmp_path):
    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no' / 'such.db'}"}
    )
    client = app.test_client()
    assert client.get("/api/v1/polls/anything").status_code == 503
    assert value(scrape(client), "pollserver_database_errors_total") == 1
    with app.app_context():
        db.engine.dispose()


def test_metrics_are_not_cors_open_and_can_need_a_token(app_config):
    app = create_app({**app_config, "METRICS_TOKEN": "s3cret-metrics"})
    client = app.test_client()
    refused = client.get("/metrics", headers={"Origin": "https://news.example"})
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == 401
    allowed = client.get(
        "/metrics",
        headers={"Authorization": "Bearer s3cret-metrics", "Origin": "https://news.example"},
    )
    assert allowed.status_code == 200
    assert "Access-Control-Allow-Origin" not in allowed.headers
    with app.app_context():
        db.engine.dispose()
