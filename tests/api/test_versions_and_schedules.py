"""A poll's versions under one public id, discarding drafts, deleting articles, imports that find
the same article anywhere, and scheduled openings and closings in the newsroom's time zone."""

from __future__ import annotations

import copy
import datetime as dt

from sqlalchemy import func, select, update

from pollserver.core.timestamps import utcnow
from pollserver.extensions import db
from pollserver.models import Answer, Article, AuditEvent, Poll, Respondent

from helpers import SEED_DEFINITION, SEED_WITH_FLOWCHART, bearer, walk

ADMIN = "/api/v1/admin"


def restructured_seed() -> dict:
    """The seed tree with an outcome where q1's No used to end the walk: a structural change."""
    definition = copy.deepcopy(SEED_DEFINITION)
    definition["nodes"][0]["no"] = "o5"
    definition["nodes"].append(
        {"id": "o5", "type": "outcome", "text": "No alliance to speak of", "next": None}
    )
    return definition


def answer(client, poll_id, token, node, value, **extra):
    return client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": token, "node": node, "answer": value, **extra},
        environ_base={"REMOTE_ADDR": "203.0.113.50"},
    )


def test_a_new_version_keeps_the_id_and_replaces_the_old_one_for_readers(
    app, client, tokens, seed_poll_id
):
    moderator = bearer(tokens["moderator"])
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.1")  # finished, v1
    started = answer(client, seed_poll_id, None, "q1", "yes")  # part-way through v1
    midway_token = started.get_json()["respondent"]
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["version"] == 1

    created = client.post(
        f"{ADMIN}/polls/{seed_poll_id}/versions", json=restructured_seed(), headers=moderator
    )
    assert created.status_code == 201, created.get_json()
    # A draft changes nothing for readers.
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["version"] == 1

    opened = client.post(
        f"{ADMIN}/polls/{seed_poll_id}/status", json={"status": "open"}, headers=moderator
    )
    assert opened.status_code == 200
    assert [(v["version"], v["status"], v["live"]) for v in opened.get_json()["versions"]] == [
        (1, "closed", False),
        (2, "open", True),
    ]
    assert opened.get_json()["versions"][0]["superseded_at"] is not None

    document = client.get(f"/api/v1/polls/{seed_poll_id}").get_json()
    assert (document["id"], document["version"]) == (seed_poll_id, 2)
    assert [node["id"] for node in document["nodes"]][-1] == "o5"

    # The reader part-way through version 1 finishes it, counted there.
    finished = answer(client, seed_poll_id, midway_token, "q2", "yes")
    assert finished.status_code == 200, finished.get_json()
    assert finished.get_json()["finished"] is True
    assert finished.get_json()["outcomes"] == ["o1", "o3"]

    # A new reader shown version 1 before it changed is told to load the poll again...
    stale = answer(client, seed_poll_id, None, "q1", "no", version=1)
    assert stale.status_code == 409
    assert stale.get_json()["error"]["details"] == {"version": 2}
    # ...and a new reader of version 2 reaches the outcome version 1 did not have.
    fresh = answer(client, seed_poll_id, None, "q1", "no", version=2)
    assert fresh.status_code == 201
    assert (fresh.get_json()["finished"], fresh.get_json()["outcomes"]) == (True, ["o5"])

    first = client.get(f"{ADMIN}/polls/{seed_poll_id}/results?version=1", headers=moderator)
    second = client.get(f"{ADMIN}/polls/{seed_poll_id}/results", headers=moderator)
    assert (first.get_json()["version"], first.get_json()["respondents"]) == (1, 2)
    assert first.get_json()["finished"] == 2
    assert (second.get_json()["version"], second.get_json()["respondents"]) == (2, 1)
    public = client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()
    assert (public["version"], public["respondents"]) == (2, 1)

    # Version 1 stays readable, and cannot come back in front of version 2.
    old = client.get(f"{ADMIN}/polls/{seed_poll_id}?version=1", headers=moderator).get_json()
    assert (old["status"], old["live_version"], old["counts"]["respondents"]) == ("closed", 2, 2)
    reopened = client.post(
        f"{ADMIN}/polls/{seed_poll_id}/status?version=1",
        json={"status": "open"},
        headers=moderator,
    )
    assert reopened.status_code == 409
    assert reopened.get_json()["error"]["details"]["live_version"] == 2
    missing = client.get(f"{ADMIN}/polls/{seed_poll_id}?version=7", headers=moderator)
    assert missing.status_code == 404
    assert "no version 7" in missing.get_json()["error"]["message"]

    events = client.get(
        f"{ADMIN}/audit", query_string={"poll": seed_poll_id}, headers=moderator
    ).get_json()
    superseded = [event for event in events if (event["after"] or {}).get("superseded_by")]
    assert [event["after"] for event in superseded] == [
        {"version": 1, "status": "closed", "superseded_by": 2}
    ]
    listed = client.get(f"{ADMIN}/polls", headers=moderator).get_json()
    assert [(poll["id"], poll["version"]) for poll in listed] == [(seed_poll_id, 2)]


def test_a_draft_can_be_discarded_and_a_published_version_cannot(app, client, tokens, seed_poll_id):
    moderator = bearer(tokens["moderator"])
    refused = client.post(f"{ADMIN}/polls/{seed_poll_id}/discard", headers=moderator)
    assert refused.status_code == 409
    assert "only drafts can be discarded" in refused.get_json()["error"]["message"]
    client.post(f"{ADMIN}/polls/{seed_poll_id}/versions", json=SEED_DEFINITION, headers=moderator)
    assert (
        client.post(
            f"{ADMIN}/polls/{seed_poll_id}/discard", headers=bearer(tokens["analyst"])
        ).status_code
        == 403
    )
    discarded = client.post(f"{ADMIN}/polls/{seed_poll_id}/discard", headers=moderator)
    assert discarded.status_code == 204
    detail = client.get(f"{ADMIN}/polls/{seed_poll_id}", headers=moderator).get_json()
    assert (detail["version"], detail["status"]) == (1, "open")
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "poll.discard")
        ).one()
        assert (event.actor, event.poll_public_id) == ("moderator-token", seed_poll_id)
        assert event.before["version"] == 2
        assert event.before["definition"] == SEED_DEFINITION


def test_an_article_goes_only_while_nobody_answered_and_nothing_is_open(
    app, client, tokens, seed_poll_id
):
    moderator = bearer(tokens["moderator"])
    with app.app_context():
        article_id = db.session.scalar(select(Article.id))
    walk(client, seed_poll_id, [("q1", "no")], "203.0.113.1")
    refused = client.delete(f"{ADMIN}/articles/{article_id}", headers=moderator)
    assert refused.status_code == 409
    assert "has answers" in refused.get_json()["error"]["message"]
    assert refused.get_json()["error"]["details"] == {"polls": [seed_poll_id]}

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1  # nothing lost
        db.session.execute(Respondent.__table__.delete())
        db.session.commit()
    still_open = client.delete(f"{ADMIN}/articles/{article_id}", headers=moderator)
    assert still_open.status_code == 409
    assert "is open" in still_open.get_json()["error"]["message"]

    client.post(
        f"{ADMIN}/polls/{seed_poll_id}/status", json={"status": "closed"}, headers=moderator
    )
    deleted = client.delete(f"{ADMIN}/articles/{article_id}", headers=moderator)
    assert deleted.status_code == 204
    assert client.get(f"{ADMIN}/articles/{article_id}", headers=moderator).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 0
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "article.delete")
        ).one()
        assert event.before["title"] == SEED_DEFINITION["title"]
        assert event.before["polls"][0]["id"] == seed_poll_id


def test_the_same_article_text_under_another_name_changes_nothing(app, client, tokens):
    moderator = bearer(tokens["moderator"])
    text = SEED_WITH_FLOWCHART.read_text()
    first = client.post(
        f"{ADMIN}/articles", json={"body": text, "source": "desk/alliance.txt"}, headers=moderator
    )
    assert first.status_code == 201
    again = client.post(
        f"{ADMIN}/articles", json={"body": text, "source": "other/copy.txt"}, headers=moderator
    )
    assert again.status_code == 200
    assert again.get_json()["status"] == "unchanged"
    assert again.get_json()["article"]["id"] == first.get_json()["article"]["id"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Article)) == 1
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 1


def test_the_same_article_from_another_folder_is_one_article(app, runner, tmp_path):
    for folder in ("desk", "archive"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "alliance.txt").write_text(SEED_WITH_FLOWCHART.read_text())
    assert "1 created" in runner.invoke(args=["import", str(tmp_path / "desk")]).output
    again = runner.invoke(args=["import", str(tmp_path / "archive")])
    assert "1 unchanged" in again.output, again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Article)) == 1
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 1
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["article.submit", "poll.create"]  # the CLI import is audited
        assert db.session.scalar(select(AuditEvent.actor)) == "cli"


def test_a_scheduled_opening_counts_from_its_moment_and_is_recorded(app, client, tokens):
    moderator = bearer(tokens["moderator"])
    submitted = client.post(
        f"{ADMIN}/articles", json={"body": SEED_WITH_FLOWCHART.read_text()}, headers=moderator
    ).get_json()
    poll_id = submitted["polls"][0]["id"]
    settings_url = f"{ADMIN}/polls/{poll_id}/settings"

    past = (utcnow() - dt.timedelta(minutes=5)).isoformat()
    refused = client.patch(settings_url, json={"open_at": past}, headers=moderator)
    assert refused.status_code == 422
    assert "opening time is in the past" in refused.get_json()["error"]["message"]
    soon = utcnow() + dt.timedelta(hours=1)
    backwards = client.patch(
        settings_url,
        json={
            "open_at": soon.isoformat(),
            "close_at": (soon - dt.timedelta(minutes=1)).isoformat(),
        },
        headers=moderator,
    )
    assert backwards.status_code == 422
    assert backwards.get_json()["error"]["details"] == {
        "fields": {"close_at": ["must come after the opening time"]}
    }

    scheduled = client.patch(settings_url, json={"open_at": soon.isoformat()}, headers=moderator)
    assert scheduled.status_code == 200
    assert scheduled.get_json()["status"] == "draft"
    assert client.get(f"/api/v1/polls/{poll_id}").status_code == 404

    # The clock passes the opening time (moved here instead of waiting); nothing else runs.
    opening = utcnow() - dt.timedelta(minutes=1)
    with app.app_context():
        db.session.execute(update(Poll).values(open_at=opening))
        db.session.commit()
    assert client.get(f"/api/v1/polls/{poll_id}").get_json()["status"] == "open"
    assert answer(client, poll_id, None, "q1", "yes").status_code == 201

    detail = client.get(f"{ADMIN}/polls/{poll_id}", headers=moderator).get_json()
    assert detail["status"] == "open"
    assert dt.datetime.fromisoformat(detail["opened_at"]) == opening
    with app.app_context():
        poll = db.session.scalar(select(Poll))
        assert (poll.status, poll.open_at) == ("open", None)  # stored by the moderator's read
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "schedule")).one()
        assert event.after == {"version": 1, "status": "open", "scheduled": True}
        assert event.created_at == opening

    open_too = client.patch(settings_url, json={"open_at": soon.isoformat()}, headers=moderator)
    assert open_too.status_code == 422
    assert "only a draft can be scheduled to open" in open_too.get_json()["error"]["message"]


def test_only_an_open_version_lets_its_readers_finish_once_replaced(
    app, client, tokens, seed_poll_id
):
    moderator = bearer(tokens["moderator"])
    status_url = f"{ADMIN}/polls/{seed_poll_id}/status"
    started = answer(client, seed_poll_id, None, "q1", "yes").get_json()["respondent"]
    # Paused (say, for vote stuffing) when version 2 opens: its readers may not start again.
    client.post(status_url, json={"status": "paused"}, headers=moderator)
    client.post(f"{ADMIN}/polls/{seed_poll_id}/versions", json=SEED_DEFINITION, headers=moderator)
    client.post(status_url, json={"status": "open"}, headers=moderator)
    first = client.get(f"{ADMIN}/polls/{seed_poll_id}?version=1", headers=moderator).get_json()
    assert (first["status"], first["versions"][0]["superseded_at"]) == ("closed", None)
    refused = answer(client, seed_poll_id, started, "q2", "yes")
    assert refused.status_code == 409 and refused.get_json()["error"]["details"] == {
        "status": "closed"
    }

    # Version 2 withdrawn, version 1 reopened and closed by hand: a close, not a replacement.
    for status in ("closed", "archived"):
        client.post(status_url, json={"status": status}, headers=moderator)
    for status in ("open", "closed"):
        moved = client.post(f"{status_url}?version=1", json={"status": status}, headers=moderator)
        assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["versions"][0]["superseded_at"] is None
    assert answer(client, seed_poll_id, started, "q2", "yes").status_code == 409


def test_a_hand_made_poll_is_never_overwritten_by_its_articles_new_text(app, client, tokens):
    moderator = bearer(tokens["moderator"])
    source = "https://news.example/alliance"
    prose = client.post(
        f"{ADMIN}/articles",
        json={"body": "A headline\n\nJust prose, no flowchart.\n", "source": source},
        headers=moderator,
    ).get_json()
    article_id = prose["article"]["id"]
    hand_made = {**SEED_DEFINITION, "title": "Written by hand"}
    made = client.post(f"{ADMIN}/articles/{article_id}/polls", json=hand_made, headers=moderator)
    assert made.status_code == 201
    rebuilt = client.post(
        f"{ADMIN}/articles",
        json={"body": SEED_WITH_FLOWCHART.read_text(), "source": source},
        headers=moderator,
    )
    assert rebuilt.status_code == 409
    assert "nothing records what the builder made" in rebuilt.get_json()["error"]["message"]
    with app.app_context():
        poll = db.session.scalars(select(Poll)).one()
        assert poll.title == "Written by hand"
        assert "Just prose" in db.session.scalars(select(Article)).one().body
