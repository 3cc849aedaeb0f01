"""The moderation API: tokens and roles on every route, lifecycle, edits, articles, response
moderation, exports, the audit log, tokens and hard deletion. Answers are real: recorded
through the public API from distinct client addresses."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re

import pytest
from sqlalchemy import func, select

from pollserver import auth, results_cache
from pollserver.core.lifecycle import PollStatus
from pollserver.core.roles import TokenRole, role_allows
from pollserver.core.timestamps import utcnow
from pollserver.extensions import db
from pollserver.models import Answer, ApiToken, Article, AuditEvent, Poll, Respondent, ResultCounter
from pollserver.services import tallies
from pollserver.services.polls import find_poll_facts
from pollserver.services.tokens import create_token, revoke_token

from helpers import (
    ARTICLES_DIR,
    SEED_DEFINITION,
    SEED_WITH_FLOWCHART,
    SEED_WITHOUT_FLOWCHART,
    bearer,
    open_poll_from_article,
    walk,
)

YES_YES = [("q1", "yes"), ("q2", "yes")]
YES_NO = [("q1", "yes"), ("q2", "no")]
NO = [("q1", "no")]

# Every admin route and the permission it needs. A new route must be added here on purpose:
# the sweep below fails for a route this table does not name.
EXPECTED_PERMISSIONS = {
    ("GET", "/api/v1/admin/me"): "read",
    ("GET", "/api/v1/admin/polls"): "read",
    ("GET", "/api/v1/admin/polls/<poll_id>"): "read",
    ("DELETE", "/api/v1/admin/polls/<poll_id>"): "administer",
    ("POST", "/api/v1/admin/polls/<poll_id>/status"): "moderate",
    ("PATCH", "/api/v1/admin/polls/<poll_id>/settings"): "moderate",
    ("PUT", "/api/v1/admin/polls/<poll_id>/definition"): "moderate",
    ("POST", "/api/v1/admin/polls/<poll_id>/versions"): "moderate",
    ("POST", "/api/v1/admin/polls/<poll_id>/discard"): "moderate",
    ("GET", "/api/v1/admin/polls/<poll_id>/results"): "read",
    ("GET", "/api/v1/admin/polls/<poll_id>/activity"): "read",
    ("GET", "/api/v1/admin/polls/<poll_id>/activity/groups"): "read",
    ("GET", "/api/v1/admin/polls/<poll_id>/respondents"): "read",
    ("POST", "/api/v1/admin/polls/<poll_id>/responses/hide"): "moderate",
    ("POST", "/api/v1/admin/polls/<poll_id>/responses/restore"): "moderate",
    ("GET", "/api/v1/admin/polls/<poll_id>/responses.csv"): "read",
    ("GET", "/api/v1/admin/polls/<poll_id>/responses.jsonl"): "read",
    ("GET", "/api/v1/admin/articles"): "read",
    ("POST", "/api/v1/admin/articles"): "moderate",
    ("POST", "/api/v1/admin/articles/upload"): "moderate",
    ("GET", "/api/v1/admin/articles/<int:article_id>"): "read",
    ("DELETE", "/api/v1/admin/articles/<int:article_id>"): "moderate",
    ("POST", "/api/v1/admin/articles/<int:article_id>/polls"): "moderate",
    ("GET", "/api/v1/admin/audit"): "read",
    ("GET", "/api/v1/admin/tokens"): "administer",
    ("POST", "/api/v1/admin/tokens"): "administer",
    ("DELETE", "/api/v1/admin/tokens/<name>"): "administer",
}


# --- helpers ------------------------------------------------------------------------------------


def without_time(results: dict) -> dict:
    return {key: value for key, value in results.items() if key != "as_of"}


def public_results(client, poll_id: str) -> dict:
    response = client.get(f"/api/v1/polls/{poll_id}/results")
    assert response.status_code == 200
    return without_time(response.get_json())


def audit(client, secret: str, **filters) -> list[dict]:
    response = client.get("/api/v1/admin/audit", query_string=filters, headers=bearer(secret))
    assert response.status_code == 200
    return response.get_json()


def url_for_rule(rule: str, poll_id: str) -> str:
    return (
        rule.replace("<poll_id>", poll_id)
        .replace("<int:article_id>", "1")
        .replace("<name>", "nobody")
    )


def revoked_token(app) -> str:
    with app.app_context():
        _, secret = create_token(db.session, "revoked", TokenRole.ADMIN)
        revoke_token(db.session, "revoked")
        db.session.commit()
    return secret


# --- who may do what ----------------------------------------------------------------------------


def test_every_admin_route_refuses_missing_bad_and_revoked_tokens_and_wrong_roles(
    app, client, tokens, seed_poll_id
):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/admin")]
    routes = {
        (method, rule.rule): rule for rule in rules for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(routes) == set(EXPECTED_PERMISSIONS), "an admin route without a decided role"
    revoked = revoked_token(app)
    refusals = {
        "no token": {},
        "unknown token": bearer("ps_" + "A" * 43),
        "not one of ours": bearer("not-a-pollserver-token"),
        "revoked token": bearer(revoked),
        "basic auth": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    }
    for (method, rule), url_rule in sorted(routes.items()):
        with app.test_request_context():
            declared = auth.required_permission(url_rule.endpoint, method)
        assert str(declared) == EXPECTED_PERMISSIONS[(method, rule)], (method, rule)
        url = url_for_rule(rule, seed_poll_id)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        for label, headers in refusals.items():
            response = client.open(url, method=method, json=body, headers=headers)
            assert response.status_code == 401, (method, rule, label)
            assert response.get_json()["error"]["code"] == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for role in TokenRole:
            response = client.open(url, method=method, json=body, headers=bearer(tokens[role]))
            response.get_data()  # an export streams: read it to the end
            if role_allows(role, declared):
                assert response.status_code not in (401, 403), (method, rule, role)
            else:
                assert response.status_code == 403, (method, rule, role)
                error = response.get_json()["error"]
                assert error["details"]["role"] == str(role)
    with app.app_context():
        assert db.session.scalar(select(Poll.status)) is PollStatus.OPEN  # nothing was changed


def test_roles_nest_analyst_moderator_admin(client, tokens):
    permissions = {
        role: client.get("/api/v1/admin/me", headers=bearer(secret)).get_json()["permissions"]
        for role, secret in tokens.items()
    }
    assert permissions == {
        "analyst": ["read"],
        "moderator": ["moderate", "read"],
        "admin": ["administer", "moderate", "read"],
    }


def test_admin_responses_never_carry_cors_headers(client, tokens, seed_poll_id):
    origin = {"Origin": "https://news.example"}
    public = client.get(f"/api/v1/polls/{seed_poll_id}", headers=origin)
    assert public.headers["Access-Control-Allow-Origin"] == "*"  # the contrast
    for headers in ({}, bearer(tokens["admin"])):
        for method in ("GET", "OPTIONS"):
            response = client.open(
                f"/api/v1/admin/polls/{seed_poll_id}",
                method=method,
                headers={**origin, **headers, "Access-Control-Request-Method": "GET"},
            )
            assert not [name for name, _ in response.headers.items() if "access-control" in name]
            assert response.headers["Cache-Control"] == "no-store"


def test_token_use_is_noted_at_most_once_a_minute(app, client, tokens):
    with app.app_context():
        assert (
            db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.role == "analyst"))
            is None
        )
    client.get("/api/v1/admin/me", headers=bearer(tokens["analyst"]))
    with app.app_context():
        first = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.role == "analyst"))
    assert first is not None and utcnow() - first < dt.timedelta(minutes=1)
    client.get("/api/v1/admin/me", headers=bearer(tokens["analyst"]))
    with app.app_context():
        again = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.role == "analyst"))
    assert again == first


@pytest.fixture
def limited_app_config(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    app_config["RATELIMIT_AUTH_FAILURES"] = "3/minute"
    return app_config


def test_refused_tokens_from_one_address_get_rate_limited(limited_app_config, app, client, tokens):
    attacker = {"REMOTE_ADDR": "203.0.113.66"}
    # Requests without any token are not guesses: they do not count.
    for _ in range(5):
        assert client.get("/api/v1/admin/polls", environ_base=attacker).status_code == 401
    for attempt in range(3):
        guess = bearer(f"ps_guess{attempt:040d}")
        response = client.get("/api/v1/admin/polls", headers=guess, environ_base=attacker)
        assert response.status_code == 401
    limited = client.get("/api/v1/admin/polls", headers=bearer("ps_x"), environ_base=attacker)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == 429
    assert "Retry-After" in limited.headers
    assert limited.get_json()["error"]["details"]["reason"] == "rate_limit"
    # A valid token from the same address (a colleague behind the newsroom's NAT) still works:
    # the limit counts refused tokens and refuses only them.
    right = client.get(
        "/api/v1/admin/polls", headers=bearer(tokens["admin"]), environ_base=attacker
    )
    assert right.status_code == 200
    # The moderation page's sign-in counts towards the same limit.
    signed_out = client.post("/admin/sign-in", data={"token": "ps_guess"}, environ_base=attacker)
    assert signed_out.status_code in (400, 429)  # no CSRF token here: refused either way
    # Each refused token within the limit is in the audit log, by the address's pseudonym.
    refused = client.get(
        "/api/v1/admin/audit",
        query_string={"action": "auth.refused"},
        headers=bearer(tokens["admin"]),
    ).get_json()
    assert len(refused) == 3
    assert {event["after"]["via"] for event in refused} == {"api"}
    assert "203.0.113.66" not in json.dumps(refused)
    # Another address is not affected, and a valid token is never counted.
    colleague = {"REMOTE_ADDR": "203.0.113.67"}
    for _ in range(5):
        ok = client.get(
            "/api/v1/admin/polls", headers=bearer(tokens["admin"]), environ_base=colleague
        )
        assert ok.status_code == 200


# --- polls and lifecycle ------------------------------------------------------------------------


def test_poll_list_and_detail_show_definition_settings_and_counts(client, tokens, seed_poll_id):
    walk(client, seed_poll_id, YES_NO, "203.0.113.1")
    walk(client, seed_poll_id, NO, "203.0.113.2")
    headers = bearer(tokens["analyst"])
    listed = client.get("/api/v1/admin/polls", headers=headers)
    assert listed.status_code == 200
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    [summary] = listed.get_json()
    assert summary["id"] == seed_poll_id
    assert summary["counts"] == {"respondents": 2, "finished": 2, "hidden": 0}
    assert summary["article"]["source"].endswith("001_3297866220564658.txt")

    detail = client.get(f"/api/v1/admin/polls/{seed_poll_id}", headers=headers).get_json()
    assert detail["definition"]["root"] == "q1"
    assert [node["id"] for node in detail["definition"]["nodes"]] == [
        "q1", "q2", "o1", "o2", "o3", "o4"
    ]  # fmt: skip
    assert detail["settings"]["results_visibility"] == "public"
    assert detail["has_answers"] is detail["structure_frozen"] is True
    assert detail["allowed_transitions"] == ["closed", "paused"]
    assert detail["warnings"] == ["question q1: the No branch ends the poll"]

    assert client.get("/api/v1/admin/polls?status=draft", headers=headers).get_json() == []
    assert len(client.get("/api/v1/admin/polls?status=open", headers=headers).get_json()) == 1
    assert len(client.get("/api/v1/admin/polls?q=fragile", headers=headers).get_json()) == 1
    assert client.get("/api/v1/admin/polls?q=nothing", headers=headers).get_json() == []
    missing = client.get("/api/v1/admin/polls/nosuchid", headers=headers)
    assert missing.status_code == 404


def test_lifecycle_allows_only_valid_transitions_and_records_each(client, tokens):
    secret = tokens["moderator"]
    body = SEED_WITH_FLOWCHART.read_text()
    submitted = client.post("/api/v1/admin/articles", json={"body": body}, headers=bearer(secret))
    poll_id = submitted.get_json()["polls"][0]["id"]

    def move(status: str):
        return client.post(
            f"/api/v1/admin/polls/{poll_id}/status", json={"status": status}, headers=bearer(secret)
        )

    refused = move("paused")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"] == {
        "status": "draft",
        "requested": "paused",
        "allowed": ["open"],
    }
    for status in ("open", "paused", "open", "closed", "open", "closed", "archived"):
        response = move(status)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == status
    for status in ("open", "closed", "paused"):
        assert move(status).status_code == 409
    assert move("draft").status_code == 422

    events = audit(client, secret, poll=poll_id, action="poll.status")
    assert [(e["before"]["status"], e["after"]["status"]) for e in reversed(events)] == [
        ("draft", "open"),
        ("open", "paused"),
        ("paused", "open"),
        ("open", "closed"),
        ("closed", "open"),
        ("open", "closed"),
        ("closed", "archived"),
    ]
    assert {event["actor"] for event in events} == {"moderator-token"}


def test_scheduled_close_takes_effect_without_any_job(app, client, tokens, seed_poll_id):
    headers = bearer(tokens["moderator"])
    in_an_hour = (utcnow() + dt.timedelta(hours=1)).isoformat()
    changed = client.patch(
        f"/api/v1/admin/polls/{seed_poll_id}/settings",
        json={"close_at": in_an_hour},
        headers=headers,
    )
    assert changed.status_code == 200
    assert changed.get_json()["status"] == "open"
    walk(client, seed_poll_id, YES_YES, "203.0.113.1")

    # The clock passes the close time (moved here instead of waiting); nothing else runs.
    with app.app_context():
        poll = db.session.scalar(select(Poll))
        poll.close_at = utcnow() - dt.timedelta(minutes=1)
        db.session.commit()

    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["status"] == "closed"
    admin_view = client.get(f"/api/v1/admin/polls/{seed_poll_id}", headers=headers).get_json()
    assert admin_view["status"] == "closed"
    assert admin_view["allowed_transitions"] == ["archived", "open"]
    closed = client.get("/api/v1/admin/polls?status=closed", headers=headers).get_json()
    assert [poll["id"] for poll in closed] == [seed_poll_id]
    assert client.get("/api/v1/admin/polls?status=open", headers=headers).get_json() == []
    late = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        environ_base={"REMOTE_ADDR": "203.0.113.2"},
    )
    assert late.status_code == 409
    assert late.get_json()["error"]["details"] == {"status": "closed"}

    # Reopening clears the passed close time, or the poll would close again at once.
    reopened = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/status", json={"status": "open"}, headers=headers
    )
    assert reopened.get_json()["status"] == "open"
    assert reopened.get_json()["close_at"] is None
    with app.app_context():
        # The moderator's write brought the status column up to date, then reopened.
        poll = db.session.scalar(select(Poll))
        assert (poll.status, poll.closed_at) == (PollStatus.OPEN, None)
    # A close time in the past is refused with a message, never applied.
    past = (utcnow() - dt.timedelta(seconds=1)).isoformat()
    refused = client.patch(
        f"/api/v1/admin/polls/{seed_poll_id}/settings", json={"close_at": past}, headers=headers
    )
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert "closing time is in the past" in error["message"]
    assert list(error["details"]["fields"]) == ["close_at"]
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["status"] == "open"


def test_settings_change_on_an_answered_poll_and_are_audited(client, tokens, seed_poll_id):
    walk(client, seed_poll_id, YES_NO, "203.0.113.1")
    headers = bearer(tokens["moderator"])
    url = f"/api/v1/admin/polls/{seed_poll_id}/settings"
    changed = client.patch(
        url,
        json={
            "results_visibility": "after_close",
            "allowed_origins": ["https://News.Example/", "https://news.example"],
            "allow_answer_changes": True,
            "language": "de",
        },
        headers=headers,
    )
    assert changed.status_code == 200, changed.get_json()
    settings = changed.get_json()["settings"]
    assert settings["results_visibility"] == "after_close"
    assert settings["allowed_origins"] == ["https://news.example"]
    assert settings["allow_answer_changes"] is True
    assert client.get(f"/api/v1/polls/{seed_poll_id}/results").status_code == 403

    [event] = audit(client, tokens["analyst"], action="poll.settings")
    assert event["before"]["results_visibility"] == "public"
    assert event["after"]["results_visibility"] == "after_close"
    assert event["after"]["allowed_origins"] == ["https://news.example"]

    for bad in (
        {},
        {"allowed_origins": ["news.example"]},
        {"results_visibility": "everyone"},
        {"close_at": "2030-01-01T00:00:00"},  # no time zone
        {"colour": "red"},
    ):
        response = client.patch(url, json=bad, headers=headers)
        assert response.status_code == 422, bad
    assert len(audit(client, tokens["analyst"], action="poll.settings")) == 1


# --- edits --------------------------------------------------------------------------------------


def seed_definition(client, secret: str, poll_id: str) -> dict:
    detail = client.get(f"/api/v1/admin/polls/{poll_id}", headers=bearer(secret)).get_json()
    return detail["definition"]


def test_structural_edit_to_an_answered_poll_is_refused_and_a_text_fix_is_recorded(
    app, client, tokens, seed_poll_id
):
    walk(client, seed_poll_id, YES_YES, "203.0.113.1")
    headers = bearer(tokens["moderator"])
    url = f"/api/v1/admin/polls/{seed_poll_id}/definition"
    original = seed_definition(client, tokens["moderator"], seed_poll_id)

    fixed = json.loads(json.dumps(original))
    fixed["title"] = "A fragile alliance, forged in fire"
    fixed["nodes"][1]["text"] = "Was the operation a success?"
    response = client.put(url, json=fixed, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["change"] == "text"
    assert response.get_json()["poll"]["definition"] == fixed
    public = client.get(f"/api/v1/polls/{seed_poll_id}").get_json()
    assert public["nodes"][1]["text"] == "Was the operation a success?"
    [event] = audit(client, tokens["analyst"], poll=seed_poll_id, action="poll.text_fix")
    assert event["actor"] == "moderator-token"
    assert event["before"] == {
        "title": "A Fragile Alliance Forged in Fire",
        "node:q2": "Was the operation a good result?",
    }
    assert event["after"] == {
        "title": "A fragile alliance, forged in fire",
        "node:q2": "Was the operation a success?",
    }

    restructured = json.loads(json.dumps(fixed))
    restructured["nodes"][0]["no"] = "o2"  # a new branch: answers would change meaning
    refused = client.put(url, json=restructured, headers=headers)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert "frozen" in error["message"]
    assert error["details"]["new_version"].endswith(f"/polls/{seed_poll_id}/versions")
    assert seed_definition(client, tokens["analyst"], seed_poll_id) == fixed

    reordered = json.loads(json.dumps(fixed))
    reordered["nodes"] = [reordered["nodes"][1], reordered["nodes"][0], *reordered["nodes"][2:]]
    assert client.put(url, json=reordered, headers=headers).status_code == 409

    # The way to a different tree: a new draft version, under the same id.
    created = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/versions", json=restructured, headers=headers
    )
    assert created.status_code == 201
    new_poll = created.get_json()
    assert (new_poll["id"], new_poll["status"], new_poll["version"]) == (seed_poll_id, "draft", 2)
    assert (new_poll["previous_version"], new_poll["live_version"]) == (1, 1)
    assert new_poll["definition"] == restructured
    assert new_poll["settings"]["results_visibility"] == "public"
    assert [
        (version["version"], version["status"], version["live"]) for version in new_poll["versions"]
    ] == [(1, "open", True), (2, "draft", False)]
    newest = client.get(f"/api/v1/admin/polls/{seed_poll_id}", headers=headers).get_json()
    assert newest["version"] == 2
    old = client.get(f"/api/v1/admin/polls/{seed_poll_id}?version=1", headers=headers).get_json()
    assert (old["version"], old["counts"]["respondents"]) == (1, 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 2


def test_a_draft_changes_freely_and_is_validated_like_the_builder(client, tokens):
    headers = bearer(tokens["moderator"])
    body = SEED_WITH_FLOWCHART.read_text()
    poll_id = client.post("/api/v1/admin/articles", json={"body": body}, headers=headers)
    poll_id = poll_id.get_json()["polls"][0]["id"]
    url = f"/api/v1/admin/polls/{poll_id}/definition"
    definition = seed_definition(client, tokens["moderator"], poll_id)
    definition["nodes"][0]["no"] = "o2"
    response = client.put(url, json=definition, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["change"] == "structure"
    assert response.get_json()["poll"]["warnings"] == []
    unchanged = client.put(url, json=definition, headers=headers)
    assert unchanged.get_json()["change"] == "none"

    broken = json.loads(json.dumps(definition))
    broken["nodes"][1]["yes"] = "q9"
    invalid = client.put(url, json=broken, headers=headers)
    assert invalid.status_code == 422
    details = invalid.get_json()["error"]["details"]
    assert "q9" in json.dumps(details) and "nodes.q2" in details["fields"]
    cyclic = json.loads(json.dumps(definition))
    cyclic["nodes"][1]["yes"] = "q1"
    assert client.put(url, json=cyclic, headers=headers).status_code == 422
    events = audit(client, tokens["analyst"], poll=poll_id, action="poll.definition")
    assert len(events) == 1
    assert events[0]["after"] == definition


# --- articles -----------------------------------------------------------------------------------


def test_articles_submitted_as_json_or_upload_become_draft_polls(client, tokens):
    headers = bearer(tokens["moderator"])
    body = SEED_WITH_FLOWCHART.read_text()
    created = client.post("/api/v1/admin/articles", json={"body": body}, headers=headers)
    assert created.status_code == 201, created.get_json()
    document = created.get_json()
    assert document["status"] == "created"
    assert document["warnings"] == ["question q1: the No branch ends the poll"]
    assert [poll["status"] for poll in document["polls"]] == ["draft"]
    assert document["article"]["title"] == "A Fragile Alliance Forged in Fire"
    again = client.post("/api/v1/admin/articles", json={"body": body}, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["status"] == "unchanged"
    assert again.get_json()["polls"][0]["id"] == document["polls"][0]["id"]

    html = (ARTICLES_DIR / "flowchart.html").read_bytes()
    uploaded = client.post(
        "/api/v1/admin/articles",
        data={"file": (io.BytesIO(html), "flowchart.html"), "source": "https://news.example/fish"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    assert uploaded.get_json()["article"]["format"] == "html"
    assert uploaded.get_json()["article"]["source"] == "https://news.example/fish"
    [poll] = uploaded.get_json()["polls"]
    assert poll["title"].startswith("Fish & Chips")

    plain = client.post(
        "/api/v1/admin/articles",
        json={"body": SEED_WITHOUT_FLOWCHART.read_text(), "format": "text"},
        headers=headers,
    )
    assert plain.status_code == 201
    assert plain.get_json()["polls"] == []
    assert plain.get_json()["article"]["needs_poll"] is True
    assert plain.get_json()["message"] == "no yes/no flowchart found"

    needing = client.get("/api/v1/admin/articles?needs_poll=true", headers=headers).get_json()
    assert [article["id"] for article in needing] == [plain.get_json()["article"]["id"]]
    everything = client.get("/api/v1/admin/articles", headers=headers)
    assert json.loads(everything.headers["X-Pagination"])["total"] == 3

    article_id = plain.get_json()["article"]["id"]
    definition = seed_definition(client, tokens["moderator"], document["polls"][0]["id"])
    definition["title"] = "Hand written"
    attached = client.post(
        f"/api/v1/admin/articles/{article_id}/polls", json=definition, headers=headers
    )
    assert attached.status_code == 201
    assert attached.get_json()["status"] == "draft"
    assert attached.get_json()["article"]["id"] == article_id
    article = client.get(f"/api/v1/admin/articles/{article_id}", headers=headers).get_json()
    assert article["needs_poll"] is False
    assert article["polls"] == [{"id": attached.get_json()["id"], "status": "draft", "version": 1}]
    assert article["body"] == SEED_WITHOUT_FLOWCHART.read_text()
    events = audit(client, tokens["analyst"], action="article.submit")
    assert len(events) == 3
    created_polls = audit(client, tokens["analyst"], action="poll.create")
    assert len(created_polls) == 3


def test_unreadable_articles_and_bad_bodies_are_refused(client, tokens):
    headers = bearer(tokens["moderator"])
    binary = client.post(
        "/api/v1/admin/articles",
        data={"file": (io.BytesIO(b"\x00\x01\x02" * 100), "x.txt")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert binary.status_code == 422
    assert binary.get_json()["error"]["message"] == "binary file, not an article"
    assert list(binary.get_json()["error"]["details"]["fields"]) == ["article"]
    for route in ("/api/v1/admin/articles", "/api/v1/admin/articles/upload"):
        no_file = client.post(
            route, data={"source": "x"}, headers=headers, content_type="multipart/form-data"
        )
        assert no_file.status_code == 422
        assert no_file.get_json()["error"]["details"]["fields"] == {"file": ["missing"]}
    # Each refusal names the field at fault, in `details.fields`.
    for body, field in [
        ({}, "body"),
        ({"body": 5}, "body"),
        ({"body": "x", "format": "pdf"}, "format"),
    ]:
        refused = client.post("/api/v1/admin/articles", json=body, headers=headers)
        assert refused.status_code == 422
        assert list(refused.get_json()["error"]["details"]["fields"]) == [field], body
    not_json = client.post("/api/v1/admin/articles", data="hello", headers=headers)
    assert not_json.status_code in (400, 415)
    definition = json.loads((ARTICLES_DIR / "poll.json").read_text())
    missing = client.post("/api/v1/admin/articles/999/polls", json=definition, headers=headers)
    assert missing.status_code == 404


# --- results and response moderation ------------------------------------------------------------


def record_spike(client, poll_id: str) -> None:
    """Four readers from four addresses, then six from one address: the spike."""
    walk(client, poll_id, YES_YES, "203.0.113.1")
    walk(client, poll_id, YES_NO, "203.0.113.2")
    walk(client, poll_id, NO, "203.0.113.3")
    walk(client, poll_id, [("q1", "yes")], "203.0.113.4")
    for _ in range(6):
        walk(client, poll_id, YES_YES, "198.51.100.7")


def test_results_are_readable_whatever_the_visibility(client, tokens, app):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="private")
    walk(client, poll_id, YES_NO, "203.0.113.1")
    assert client.get(f"/api/v1/polls/{poll_id}/results").status_code == 403
    response = client.get(
        f"/api/v1/admin/polls/{poll_id}/results", headers=bearer(tokens["analyst"])
    )
    assert response.status_code == 200
    results = response.get_json()
    assert (results["respondents"], results["finished"]) == (1, 1)
    assert results["questions"]["q2"]["no"] == 1


def test_spike_view_groups_respondents_by_address_hash_never_the_address(
    client, tokens, seed_poll_id
):
    record_spike(client, seed_poll_id)
    headers = bearer(tokens["analyst"])
    activity = client.get(f"/api/v1/admin/polls/{seed_poll_id}/activity", headers=headers)
    hours = activity.get_json()["hours"]  # one hour, or two if the test straddles an hour
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", hour["hour"]) for hour in hours)
    totals = [sum(hour[key] for hour in hours) for key in ("answers", "hidden_answers")]
    assert totals == [18, 0]
    assert sum(hour["respondents_started"] for hour in hours) == 10

    groups = client.get(f"/api/v1/admin/polls/{seed_poll_id}/activity/groups", headers=headers)
    groups = groups.get_json()["groups"]
    assert [group["respondents"] for group in groups] == [6, 1, 1, 1, 1]
    assert all(re.fullmatch(r"[0-9a-f]{64}", group["address_hash"]) for group in groups)
    assert groups[0]["finished"] == 6
    respondents = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/respondents",
        query_string={"address_hash": groups[0]["address_hash"]},
        headers=headers,
    )
    assert len(respondents.get_json()) == 6
    assert {tuple(step["answer"] for step in r["path"]) for r in respondents.get_json()} == {
        ("yes", "yes")
    }
    for response in (activity, respondents):
        assert "198.51.100.7" not in response.get_data(as_text=True)
    future = (utcnow() + dt.timedelta(hours=2)).isoformat()
    empty = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/activity/groups",
        query_string={"since": future},
        headers=headers,
    )
    assert empty.get_json()["groups"] == []
    backwards = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/activity",
        query_string={"since": future, "until": utcnow().isoformat()},
        headers=headers,
    )
    assert backwards.status_code == 422


def test_a_sum_read_before_a_hide_is_never_cached_after_it(app, client, tokens, seed_poll_id):
    record_spike(client, seed_poll_id)
    with app.app_context(), db.engine.connect() as connection:
        facts = find_poll_facts(connection, seed_poll_id)
        # As a batch of answers sums the tallies for its finishing readers, just before a
        # moderator in the same process hides answers and empties the cached results.
        summed_before_hide = tallies.sum_counts(connection, facts.id)
    headers = bearer(tokens["moderator"])
    groups = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/activity/groups", headers=headers
    ).get_json()["groups"]
    hidden = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/hide",
        json={"address_hash": groups[0]["address_hash"]},
        headers=headers,
    )
    assert hidden.get_json()["changed"] == 6
    with app.app_context():
        late = results_cache.current_results(
            facts, counting_since=summed_before_hide.summed_at, summed=summed_before_hide
        )
    assert late["respondents"] == 10  # the batch's readers get the numbers of their moment
    assert public_results(client, seed_poll_id)["respondents"] == 4  # nobody after the hide does


def test_hiding_drops_the_results_at_once_and_restoring_brings_them_back_exactly(
    app, client, tokens, seed_poll_id
):
    record_spike(client, seed_poll_id)
    before = public_results(client, seed_poll_id)
    assert before["respondents"] == 10
    headers = bearer(tokens["moderator"])
    groups = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/activity/groups", headers=headers
    ).get_json()["groups"]
    spike = {"address_hash": groups[0]["address_hash"]}

    hidden = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/hide", json=spike, headers=headers
    )
    assert hidden.get_json() == {"poll": seed_poll_id, "hidden": True, "matched": 6, "changed": 6}
    during = public_results(client, seed_poll_id)
    assert (during["respondents"], during["finished"]) == (4, 3)
    assert during["questions"]["q1"] == {
        "reached": 4,
        "yes": 3,
        "no": 1,
        "not_answered": 0,
        "yes_share": None,
        "yes_interval": None,
    }
    assert during["questions"]["q2"]["yes"] == 1
    assert during["outcomes"]["o1"]["reached"] == 1
    assert [path["respondents"] for path in during["paths"]] == [1, 1, 1]
    assert sum(hour["answers"] for hour in during["hourly"]) == 6
    admin_results = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/results", headers=headers
    ).get_json()
    assert without_time(admin_results) == during
    summary = client.get(f"/api/v1/admin/polls/{seed_poll_id}", headers=headers).get_json()
    assert summary["counts"] == {"respondents": 4, "finished": 3, "hidden": 6}

    again = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/hide", json=spike, headers=headers
    )
    assert again.get_json()["changed"] == 0
    assert public_results(client, seed_poll_id) == during

    restored = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/restore", json=spike, headers=headers
    )
    assert restored.get_json()["changed"] == 6
    assert public_results(client, seed_poll_id) == before
    with app.app_context():  # nothing was ever deleted
        assert db.session.scalar(select(func.count()).select_from(Respondent)) == 10
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 18

    events = audit(client, tokens["analyst"], poll=seed_poll_id, action="responses.")
    assert [event["action"] for event in events] == [
        "responses.restore",
        "responses.hide",
        "responses.hide",
    ]
    assert events[-1]["after"]["selection"] == spike
    assert events[-1]["after"]["changed"] == 6
    assert len(events[-1]["after"]["respondents"]) == 6


def test_hiding_by_respondent_and_by_time_window(client, tokens, seed_poll_id):
    record_spike(client, seed_poll_id)
    before = public_results(client, seed_poll_id)
    headers = bearer(tokens["moderator"])
    url = f"/api/v1/admin/polls/{seed_poll_id}/responses"
    listed = client.get(f"/api/v1/admin/polls/{seed_poll_id}/respondents", headers=headers)
    first, second = (entry["respondent"] for entry in listed.get_json()[:2])

    by_id = client.post(f"{url}/hide", json={"respondents": [first, second]}, headers=headers)
    assert by_id.get_json()["changed"] == 2
    after = public_results(client, seed_poll_id)
    assert after["respondents"] == 8
    assert after["questions"]["q2"]["yes"] == before["questions"]["q2"]["yes"] - 1
    assert after["questions"]["q2"]["no"] == before["questions"]["q2"]["no"] - 1
    hidden_only = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/respondents?hidden=true", headers=headers
    )
    assert [entry["respondent"] for entry in hidden_only.get_json()] == [first, second]

    window = {
        "started_from": (utcnow() - dt.timedelta(hours=1)).isoformat(),
        "started_until": (utcnow() + dt.timedelta(minutes=1)).isoformat(),
    }
    everyone = client.post(f"{url}/hide", json=window, headers=headers).get_json()
    assert (everyone["matched"], everyone["changed"]) == (10, 8)
    nobody = public_results(client, seed_poll_id)
    assert (nobody["respondents"], nobody["finished"], nobody["paths"], nobody["hourly"]) == (
        0,
        0,
        [],
        [],
    )
    client.post(f"{url}/restore", json=window, headers=headers)
    assert public_results(client, seed_poll_id) == before

    for bad in ({}, {"respondents": []}, {"address_hash": "abc"}, {"everyone": True}):
        assert client.post(f"{url}/hide", json=bad, headers=headers).status_code == 422


def test_a_hidden_reader_who_goes_on_answering_stays_out_of_the_results(
    client, tokens, seed_poll_id
):
    token = walk(client, seed_poll_id, [("q1", "yes")], "203.0.113.9").get_json()["respondent"]
    headers = bearer(tokens["moderator"])
    listed = client.get(f"/api/v1/admin/polls/{seed_poll_id}/respondents", headers=headers)
    [respondent] = [entry["respondent"] for entry in listed.get_json()]
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/hide",
        json={"respondents": [respondent]},
        headers=headers,
    )
    empty = public_results(client, seed_poll_id)
    response = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "no"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 200
    assert public_results(client, seed_poll_id) == empty
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/restore",
        json={"respondents": [respondent]},
        headers=headers,
    )
    restored = public_results(client, seed_poll_id)
    assert restored["questions"]["q2"]["no"] == 1
    assert restored["finished"] == 1


# --- exports ------------------------------------------------------------------------------------


def test_exports_stream_every_response_with_its_hidden_flag(client, tokens, seed_poll_id):
    record_spike(client, seed_poll_id)
    moderator = bearer(tokens["moderator"])
    groups = client.get(
        f"/api/v1/admin/polls/{seed_poll_id}/activity/groups", headers=moderator
    ).get_json()["groups"]
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/responses/hide",
        json={"address_hash": groups[0]["address_hash"]},
        headers=moderator,
    )
    headers = bearer(tokens["analyst"])

    exported = client.get(f"/api/v1/admin/polls/{seed_poll_id}/responses.csv", headers=headers)
    assert exported.status_code == 200
    assert exported.is_streamed
    assert exported.mimetype == "text/csv"
    assert exported.headers["Content-Disposition"] == (
        f'attachment; filename="poll-{seed_poll_id}-v1-responses.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert list(rows[0]) == [
        "respondent", "started", "finished", "path", "outcome", "hidden", "path_text",
        "outcome_text",
    ]  # fmt: skip
    assert len(rows) == 10
    assert [row["hidden"] for row in rows].count("true") == 6
    assert rows[0]["path"] == "q1:yes>q2:yes" and rows[0]["outcome"] == "o1>o3"
    assert rows[0]["outcome_text"] == (
        "Operation had a good result > North Korean military given due recognition"
    )
    assert rows[1]["path"] == "q1:yes>q2:no" and rows[1]["outcome"] == "o2>o4"
    assert rows[2]["path"] == "q1:no" and rows[2]["outcome"] == ""
    assert rows[3]["path"] == "q1:yes" and rows[3]["finished"] == ""
    assert all(row["started"].endswith("Z") for row in rows)

    lines = client.get(f"/api/v1/admin/polls/{seed_poll_id}/responses.jsonl", headers=headers)
    assert lines.is_streamed
    assert lines.mimetype == "application/x-ndjson"
    documents = [json.loads(line) for line in lines.get_data(as_text=True).splitlines()]
    assert len(documents) == 10
    assert documents[0] == {
        "respondent": int(rows[0]["respondent"]),
        "started": rows[0]["started"],
        "finished": rows[0]["finished"],
        "path": [
            {"node": "q1", "answer": "yes", "question": SEED_DEFINITION["nodes"][0]["text"]},
            {"node": "q2", "answer": "yes", "question": SEED_DEFINITION["nodes"][1]["text"]},
        ],
        "outcome": ["o1", "o3"],
        "outcome_text": [
            "Operation had a good result",
            "North Korean military given due recognition",
        ],
        "hidden": False,
    }
    assert [document["hidden"] for document in documents] == [
        row["hidden"] == "true" for row in rows
    ]
    for response in (exported, lines):
        text = response.get_data(as_text=True)
        assert groups[0]["address_hash"] not in text and "198.51.100.7" not in text
    formats = [
        event["after"]["format"]
        for event in audit(client, tokens["analyst"], action="responses.export")
    ]
    assert formats == ["jsonl", "csv"]


# --- audit log ----------------------------------------------------------------------------------


def test_audit_log_is_append_only_and_filterable(app, client, tokens, seed_poll_id):
    audit_rules = [rule for rule in app.url_map.iter_rules() if "/admin/audit" in rule.rule]
    assert audit_rules
    for rule in audit_rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    headers = bearer(tokens["admin"])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert client.open("/api/v1/admin/audit", method=method, headers=headers).status_code == 405
        assert client.open("/api/v1/admin/audit/1", method=method, headers=headers).status_code in (
            404,
            405,
        )

    moderator = bearer(tokens["moderator"])
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/status", json={"status": "paused"}, headers=moderator
    )
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/status", json={"status": "open"}, headers=moderator
    )
    client.post("/api/v1/admin/tokens", json={"name": "desk", "role": "analyst"}, headers=headers)

    everything = audit(client, tokens["analyst"])
    assert [event["action"] for event in everything] == [
        "token.create",
        "poll.status",
        "poll.status",
        "poll.create",  # the fixture's import is recorded too
        "article.submit",
    ]
    newest = everything[0]
    assert (newest["actor"], newest["poll"], newest["after"]["name"]) == (
        "admin-token",
        None,
        "desk",
    )
    assert len(audit(client, tokens["analyst"], poll=seed_poll_id)) == 3
    assert len(audit(client, tokens["analyst"], actor="moderator-token")) == 2
    assert audit(client, tokens["analyst"], actor="nobody") == []
    assert len(audit(client, tokens["analyst"], action="poll.")) == 3
    assert audit(client, tokens["analyst"], action="poll.delete") == []
    since = everything[1]["created_at"]
    assert [e["action"] for e in audit(client, tokens["analyst"], since=since)][-1] == "poll.status"
    assert audit(client, tokens["analyst"], until=everything[-1]["created_at"]) == []
    paged = client.get("/api/v1/admin/audit?page_size=1&page=2", headers=headers)
    assert json.loads(paged.headers["X-Pagination"])["total"] == 5
    assert paged.get_json() == [everything[1]]


# --- tokens and deletion ------------------------------------------------------------------------


def test_admins_manage_tokens_shown_once_and_stored_hashed(app, client, tokens):
    headers = bearer(tokens["admin"])
    created = client.post(
        "/api/v1/admin/tokens", json={"name": "data desk", "role": "analyst"}, headers=headers
    )
    assert created.status_code == 201
    secret = created.get_json()["token"]
    assert re.fullmatch(r"ps_[A-Za-z0-9_-]{43}", secret)
    assert created.get_json()["prefix"] == secret[:10]
    with app.app_context():
        stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "data desk"))
        assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in json.dumps([str(value) for value in vars(stored).values()])
    listed = client.get("/api/v1/admin/tokens", headers=headers).get_json()
    assert [token["name"] for token in listed] == [
        "admin-token", "moderator-token", "analyst-token", "data desk"
    ]  # fmt: skip
    assert all("token" not in token for token in listed)
    assert client.get("/api/v1/admin/me", headers=bearer(secret)).get_json()["role"] == "analyst"

    duplicate = client.post(
        "/api/v1/admin/tokens", json={"name": "data desk", "role": "admin"}, headers=headers
    )
    assert duplicate.status_code == 409
    for bad in ({"name": "", "role": "analyst"}, {"name": "x", "role": "owner"}, {"name": "x"}):
        assert client.post("/api/v1/admin/tokens", json=bad, headers=headers).status_code == 422

    revoked = client.delete("/api/v1/admin/tokens/data desk", headers=headers)
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_at"] is not None
    assert client.get("/api/v1/admin/me", headers=bearer(secret)).status_code == 401
    assert client.delete("/api/v1/admin/tokens/data desk", headers=headers).status_code == 200
    assert client.delete("/api/v1/admin/tokens/nobody", headers=headers).status_code == 404
    actions = [event["action"] for event in audit(client, tokens["admin"], action="token.")]
    assert actions == ["token.revoke", "token.create"]


def test_only_admins_delete_and_only_archived_polls(app, client, tokens, seed_poll_id):
    record_spike(client, seed_poll_id)
    url = f"/api/v1/admin/polls/{seed_poll_id}"
    assert client.delete(url, headers=bearer(tokens["moderator"])).status_code == 403
    refused = client.delete(url, headers=bearer(tokens["admin"]))
    assert refused.status_code == 409
    assert "only archived polls" in refused.get_json()["error"]["message"]
    for status in ("closed", "archived"):
        client.post(f"{url}/status", json={"status": status}, headers=bearer(tokens["moderator"]))
    deleted = client.delete(url, headers=bearer(tokens["admin"]))
    assert deleted.status_code == 204
    assert client.get(url, headers=bearer(tokens["admin"])).status_code == 404
    with app.app_context():
        for model in (Poll, Respondent, Answer, ResultCounter):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
        assert db.session.scalar(select(Article.needs_poll)) is True
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "poll.delete"))
        assert event.poll_public_id == seed_poll_id
        assert event.before["respondents"] == 10


def test_every_admin_operation_is_documented_with_its_token_and_refusals(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["AdminToken"]["scheme"] == "bearer"
    documented = {
        (method.upper(), path.replace("{", "<").replace("}", ">"))
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/admin")
        for method in operations
        if method != "parameters"
    }
    expected = {(method, re.sub(r"<int:", "<", rule)) for method, rule in EXPECTED_PERMISSIONS}
    assert documented == expected
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/admin"):
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if method == "parameters":
                continue
            assert operation["security"] == [{"AdminToken": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
            assert operation["summary"], (method, path)


def test_odd_input_is_refused_politely_never_a_500(client, tokens):
    headers = bearer(tokens["admin"])
    for url in (
        "/api/v1/admin/polls?q=a%00b",
        "/api/v1/admin/polls?article=99999999999999999999",
        "/api/v1/admin/audit?actor=a%00b",
        "/api/v1/admin/audit?poll=" + "x" * 40,
    ):
        assert client.get(url, headers=headers).status_code == 422, url
    assert (
        client.get("/api/v1/admin/articles/99999999999999999999", headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/admin/polls/a%00b", headers=headers).status_code == 404
    assert client.delete("/api/v1/admin/tokens/a%00b", headers=headers).status_code == 404
    far = client.get("/api/v1/admin/polls?page=99999999999999999999", headers=headers)
    assert (far.status_code, far.get_json()) == (200, [])
    huge_id = client.post(
        "/api/v1/admin/polls/nosuchid/responses/hide",
        json={"respondents": [2**70]},
        headers=headers,
    )
    assert huge_id.status_code == 422
