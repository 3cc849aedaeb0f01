"""The public poll API through Flask's test client, on the configured database."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from pollserver.core.lifecycle import PollStatus, effective_status
from pollserver.core.privacy import hash_token
from pollserver.extensions import db, limiter
from pollserver.models import Answer, Poll, Respondent
from pollserver.services.polls import change_status, find_poll

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article, walk


def answer(client, poll_id, node, value, token=None, **kwargs):
    return client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": token, "node": node, "answer": value},
        **kwargs,
    )


def stored_answers(app, poll_id) -> list[tuple[str, str]]:
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        rows = db.session.execute(
            select(Answer.node_key, Answer.value)
            .where(Answer.poll_id == poll.id)
            .order_by(Answer.id)
        )
        return [(key, str(value)) for key, value in rows]


def count_rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def set_status(app, poll_id, *statuses):
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        for status in statuses:
            change_status(poll, status)
        db.session.commit()


# --- GET the poll -----------------------------------------------------------------------------


def test_poll_renders_with_its_tree_and_widget_settings(client, seed_poll_id):
    response = client.get(f"/api/v1/polls/{seed_poll_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == seed_poll_id
    assert body["title"] == "A Fragile Alliance Forged in Fire"
    assert body["status"] == "open"
    assert body["root"] == "q1"
    assert [node["id"] for node in body["nodes"]] == ["q1", "q2", "o1", "o2", "o3", "o4"]
    assert body["nodes"][0] == {
        "id": "q1",
        "type": "question",
        "text": "Russia allowed North Korean military in Ukraine?",
        "yes": "q2",
        "no": None,
    }
    assert body["settings"] == {
        "results_visibility": "public",
        "allow_answer_changes": False,
        "language": "en",
    }


def test_poll_has_etag_short_cache_and_304(client, seed_poll_id):
    first = client.get(f"/api/v1/polls/{seed_poll_id}")
    assert first.headers["Cache-Control"] == "public, max-age=30"
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/polls/{seed_poll_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    other = client.get(f"/api/v1/polls/{seed_poll_id}", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_drafts_archived_and_unknown_polls_are_404(app, client):
    from pollserver.core import builder
    from pollserver.services.articles import import_article

    with app.app_context():
        draft = import_article(
            db.session, builder.read_article(SEED_WITH_FLOWCHART), "tests"
        ).polls[0]
        db.session.commit()
        draft_id = draft.public_id
    for poll_id in (draft_id, "nosuchid"):
        response = client.get(f"/api/v1/polls/{poll_id}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == 404
    set_status(app, draft_id, PollStatus.OPEN, PollStatus.CLOSED, PollStatus.ARCHIVED)
    assert client.get(f"/api/v1/polls/{draft_id}").status_code == 404


def test_paused_and_closed_polls_render_but_take_no_answers(app, client, seed_poll_id):
    set_status(app, seed_poll_id, PollStatus.PAUSED)
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["status"] == "paused"
    refused = answer(client, seed_poll_id, "q1", "yes")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"] == {"status": "paused"}
    assert "paused" in refused.get_json()["error"]["message"]

    set_status(app, seed_poll_id, PollStatus.CLOSED)
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["status"] == "closed"
    refused = answer(client, seed_poll_id, "q1", "yes")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"] == {"status": "closed"}
    assert count_rows(app, Respondent) == 0


def test_a_scheduled_close_takes_effect_without_a_job(app, client, seed_poll_id):
    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        poll.close_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.commit()
    assert client.get(f"/api/v1/polls/{seed_poll_id}").get_json()["status"] == "closed"
    refused = answer(client, seed_poll_id, "q1", "yes")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"] == {"status": "closed"}
    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        assert effective_status(poll) is PollStatus.CLOSED
        assert db.session.scalar(select(func.count()).select_from(Respondent)) == 0


# --- answering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "outcomes"),
    [
        ([("q1", "yes"), ("q2", "yes")], ["o1", "o3"]),
        ([("q1", "yes"), ("q2", "no")], ["o2", "o4"]),
        ([("q1", "no")], []),
    ],
)
def test_every_path_of_the_seed_poll_is_walked_and_stored_once(
    app, client, seed_poll_id, answers, outcomes
):
    first = answer(client, seed_poll_id, *answers[0])
    assert first.status_code == 201
    token = first.get_json()["respondent"]
    assert len(token) >= 22  # at least 128 bits, URL-safe
    assert all(character.isalnum() or character in "-_" for character in token)
    reply = first
    for node, value in answers[1:]:
        reply = answer(client, seed_poll_id, node, value, token)
        assert reply.status_code == 200
    body = reply.get_json()
    assert body["respondent"] == token
    assert body["finished"] is True
    assert body["current"] is None
    assert body["outcomes"] == outcomes
    assert body["path"] == [{"node": node, "answer": value} for node, value in answers]
    assert body["results"]["respondents"] == 1
    assert stored_answers(app, seed_poll_id) == answers
    with app.app_context():
        respondent = db.session.scalars(select(Respondent)).one()
        assert respondent.token_hash == hash_token(token)
        assert respondent.finished_at is not None


def test_the_reply_names_the_next_question_mid_path(client, seed_poll_id):
    body = answer(client, seed_poll_id, "q1", "yes").get_json()
    assert body["current"] == "q2"
    assert body["finished"] is False
    assert body["outcomes"] == []
    assert body["results"] is None


def test_a_retried_answer_is_200_and_counts_nothing_twice(app, client, seed_poll_id):
    token = answer(client, seed_poll_id, "q1", "yes").get_json()["respondent"]
    retry = answer(client, seed_poll_id, "q1", "yes", token)
    assert retry.status_code == 200
    assert retry.get_json()["current"] == "q2"
    assert stored_answers(app, seed_poll_id) == [("q1", "yes")]
    results = client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()
    assert results["questions"]["q1"]["yes"] == 1


def test_answering_a_question_that_is_not_current_is_409_naming_the_expected_one(
    app, client, seed_poll_id
):
    new_reader = answer(client, seed_poll_id, "q2", "yes")
    assert new_reader.status_code == 409
    assert new_reader.get_json()["error"]["details"] == {"expected": "q1"}
    assert "'q1'" in new_reader.get_json()["error"]["message"]
    assert count_rows(app, Respondent) == 0

    token = walk(client, seed_poll_id, [("q1", "no")]).get_json()["respondent"]
    ended = answer(client, seed_poll_id, "q2", "yes", token)
    assert ended.status_code == 409
    assert "ended" in ended.get_json()["error"]["message"]
    assert ended.get_json()["error"]["details"] == {"expected": None}


def test_a_different_answer_is_409_unless_the_poll_allows_changes(app, client, seed_poll_id):
    token = walk(client, seed_poll_id, [("q1", "yes"), ("q2", "yes")]).get_json()["respondent"]
    refused = answer(client, seed_poll_id, "q1", "no", token)
    assert refused.status_code == 409
    assert "does not allow changing" in refused.get_json()["error"]["message"]
    assert stored_answers(app, seed_poll_id) == [("q1", "yes"), ("q2", "yes")]


def test_a_changed_answer_replaces_everything_below_it_and_counts_follow(app, client):
    # Every read below must sum the tallies: cached results may lag by RESULTS_CACHE_SECONDS.
    app.config["RESULTS_CACHE_SECONDS"] = 0
    poll_id = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, allow_answer_changes=True, results_visibility="public"
    )
    token = walk(client, poll_id, [("q1", "yes"), ("q2", "yes")]).get_json()["respondent"]
    changed = answer(client, poll_id, "q1", "no", token)
    assert changed.status_code == 200
    assert changed.get_json()["outcomes"] == []
    assert stored_answers(app, poll_id) == [("q1", "no")]
    results = client.get(f"/api/v1/polls/{poll_id}/results").get_json()
    assert results["respondents"] == 1
    assert results["finished"] == 1
    assert results["questions"]["q1"] | {"yes_share": None, "yes_interval": None} == {
        "reached": 1,
        "yes": 0,
        "no": 1,
        "not_answered": 0,
        "yes_share": None,
        "yes_interval": None,
    }
    assert results["questions"]["q2"]["reached"] == 0
    assert results["questions"]["q2"]["yes"] == 0
    assert results["outcomes"]["o1"]["reached"] == 0
    assert [path["answers"] for path in results["paths"]] == [["no"]]

    back = answer(client, poll_id, "q1", "yes", token)
    assert back.get_json()["current"] == "q2"
    results = client.get(f"/api/v1/polls/{poll_id}/results").get_json()
    assert results["finished"] == 0
    assert results["questions"]["q2"]["reached"] == 1
    assert results["paths"] == []


# --- bad input: a clear error and nothing stored ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"respondent": None, "node": "q1"}, 422, "answer"),
        ({"respondent": None, "node": "q1", "answer": "maybe"}, 422, "answer"),
        ({"respondent": None, "node": 7, "answer": "yes"}, 422, "node"),
        ({"respondent": 12, "node": "q1", "answer": "yes"}, 422, "respondent"),
        ({"respondent": None, "node": "q1", "answer": "yes", "extra": 1}, 422, "extra"),
        ({"respondent": None, "node": "zz", "answer": "yes"}, 422, "node"),
        ({"respondent": None, "node": "o1", "answer": "yes"}, 422, "node"),
        ({"respondent": "x" * 40, "node": "q1", "answer": "yes"}, 422, "respondent"),
        ([1, 2], 422, None),
    ],
)
def test_bad_answer_bodies_are_clear_errors_and_store_nothing(
    app, client, seed_poll_id, body, status, field
):
    response = client.post(f"/api/v1/polls/{seed_poll_id}/answers", json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == status
    if field:
        assert field in error["details"]["fields"]
    assert count_rows(app, Respondent) == 0
    assert count_rows(app, Answer) == 0


def test_malformed_json_and_oversized_bodies_are_refused(app, client, seed_poll_id):
    url = f"/api/v1/polls/{seed_poll_id}/answers"
    malformed = client.post(url, data='{"respondent": nul', content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == 400
    huge = client.post(
        url,
        data='{"respondent": null, "node": "q1", "answer": "yes", "pad": "' + "x" * 5000 + '"}',
        content_type="application/json",
    )
    assert huge.status_code == 413
    assert huge.get_json()["error"]["code"] == 413
    assert count_rows(app, Respondent) == 0


def test_answering_an_unknown_poll_is_404(app, client):
    response = answer(client, "nosuchid", "q1", "yes")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404


# --- progress and results visibility ----------------------------------------------------------


def test_a_returning_reader_gets_their_progress(client, seed_poll_id):
    token = answer(client, seed_poll_id, "q1", "yes").get_json()["respondent"]
    progress = client.get(
        f"/api/v1/polls/{seed_poll_id}/progress", headers={"X-Poll-Respondent": token}
    )
    assert progress.status_code == 200
    assert progress.get_json()["current"] == "q2"
    assert progress.headers["Cache-Control"] == "private, no-store"
    unknown = client.get(
        f"/api/v1/polls/{seed_poll_id}/progress", headers={"X-Poll-Respondent": "y" * 32}
    )
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["details"] == {"reason": "unknown_respondent"}


@pytest.mark.parametrize(
    ("visibility", "message"),
    [
        ("after_answer", "once they reach the end of their path"),
        ("after_close", "when the poll closes"),
        ("private", "for the newsroom only"),
    ],
)
def test_hidden_results_are_403_saying_when_they_become_visible(app, client, visibility, message):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility=visibility)
    response = client.get(f"/api/v1/polls/{poll_id}/results")
    assert response.status_code == 403
    assert message in response.get_json()["error"]["message"]


def test_after_answer_results_come_with_the_last_answer_and_to_that_reader(app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="after_answer")
    token = answer(client, poll_id, "q1", "yes").get_json()["respondent"]
    headers = {"X-Poll-Respondent": token}
    assert client.get(f"/api/v1/polls/{poll_id}/results", headers=headers).status_code == 403
    last = answer(client, poll_id, "q2", "no", token)
    assert last.get_json()["results"]["finished"] == 1
    mine = client.get(f"/api/v1/polls/{poll_id}/results", headers=headers)
    assert mine.status_code == 200
    assert mine.get_json()["outcomes"]["o2"]["reached"] == 1
    assert client.get(f"/api/v1/polls/{poll_id}/results").status_code == 403


def test_after_close_results_appear_when_the_poll_closes(app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="after_close")
    finished = walk(client, poll_id, [("q1", "no")]).get_json()
    assert finished["results"] is None
    set_status(app, poll_id, PollStatus.CLOSED)
    assert client.get(f"/api/v1/polls/{poll_id}/results").status_code == 200


# --- CORS -------------------------------------------------------------------------------------


def test_public_endpoints_answer_preflight_for_any_origin(client, seed_poll_id):
    preflight = client.options(
        f"/api/v1/polls/{seed_poll_id}/answers",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    get = client.get(f"/api/v1/polls/{seed_poll_id}", headers={"Origin": "https://news.example"})
    assert get.headers["Access-Control-Allow-Origin"] == "*"


def test_a_poll_with_allowed_origins_only_answers_them(app, client):
    poll_id = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, allowed_origins=["https://paper.example"]
    )
    allowed = client.get(f"/api/v1/polls/{poll_id}", headers={"Origin": "https://paper.example"})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://paper.example"
    assert "Origin" in allowed.headers["Vary"]
    # Another origin is refused, readably (tests/api/test_refusals.py has the whole contract).
    other = client.get(f"/api/v1/polls/{poll_id}", headers={"Origin": "https://other.example"})
    assert other.status_code == 403
    assert other.headers["Access-Control-Allow-Origin"] == "https://other.example"


def test_health_and_unknown_routes_send_no_cors_headers(client):
    response = client.get("/healthz", headers={"Origin": "https://news.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


# --- abuse ------------------------------------------------------------------------------------


@pytest.fixture
def limited_app_config(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_ANSWERS="3/minute",
        RESPONDENTS_PER_ADDRESS_PER_DAY=50,
    )
    return app_config


def test_the_answer_after_the_limit_is_429_with_retry_after(limited_app_config, app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    address = {"REMOTE_ADDR": "198.51.100.20"}
    for _ in range(3):
        assert answer(client, poll_id, "q1", "yes", environ_base=address).status_code == 201
    limited = answer(client, poll_id, "q1", "yes", environ_base=address)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Another address is not affected.
    other = answer(client, poll_id, "q1", "yes", environ_base={"REMOTE_ADDR": "198.51.100.21"})
    assert other.status_code == 201
    assert count_rows(app, Respondent) == 4


@pytest.fixture
def meta_limited_app_config(limited_app_config):
    limited_app_config.update(
        RATELIMIT_ANSWERS="1/minute",
        RATELIMIT_META="1/hour",
        # flask-limiter leaves RATELIMIT_KEY_PREFIX off meta limits' keys (it hits them with
        # the bare key and scope), so on a Redis shared with an earlier run the same address
        # meets that run's meta counter, and its Retry-After. The counters are keyed by an HMAC
        # under SECRET_KEY: a key of this run's own keeps them apart.
        SECRET_KEY=f"meta-limit-test-{uuid.uuid4().hex}",
    )
    yield limited_app_config
    # flask-limiter keeps the first meta limits it is given for good (one app per process in
    # production); the next test's app must not inherit them.
    limiter._meta_limits = []


def test_a_meta_limit_429_also_says_when_to_try_again(meta_limited_app_config, app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    address = {"REMOTE_ADDR": "198.51.100.25"}
    assert answer(client, poll_id, "q1", "yes", environ_base=address).status_code == 201
    over_the_limit = answer(client, poll_id, "q1", "yes", environ_base=address)
    assert over_the_limit.status_code == 429
    assert 0 < int(over_the_limit.headers["Retry-After"]) <= 60
    # One breach spends the hourly meta limit: now every request is refused for the hour.
    over_the_meta_limit = client.get(f"/api/v1/polls/{poll_id}/progress", environ_base=address)
    assert over_the_meta_limit.status_code == 429
    assert over_the_meta_limit.get_json()["error"]["code"] == 429
    assert over_the_meta_limit.get_json()["error"]["details"]["reason"] == "rate_limit"
    # Only the hourly meta limit refuses a read here. Its Retry-After can be under a minute: the
    # sliding-window-counter strategy counts in clock-aligned windows, so near the top of the
    # hour the breach weighs less at once (seen in CI at 19:59: 46 s).
    assert 0 < int(over_the_meta_limit.headers["Retry-After"]) <= 3600


def test_without_proof_of_work_new_readers_per_address_are_capped_per_day(app, client):
    app.config["RESPONDENTS_PER_ADDRESS_PER_DAY"] = 3
    app.config["POLLSERVER_PROOF_OF_WORK_BITS"] = 0
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    address = {"REMOTE_ADDR": "198.51.100.30"}
    tokens = [
        answer(client, poll_id, "q1", "yes", environ_base=address).get_json()["respondent"]
        for _ in range(3)
    ]
    capped = answer(client, poll_id, "q1", "yes", environ_base=address)
    assert capped.status_code == 429
    assert "Too many new readers from your network" in capped.get_json()["error"]["message"]
    assert capped.get_json()["error"]["details"]["reason"] == "daily_cap"
    assert 0 < int(capped.headers["Retry-After"]) <= 24 * 3600
    # Readers who already started can go on; other addresses can start.
    assert answer(client, poll_id, "q2", "yes", tokens[0], environ_base=address).status_code == 200
    other = answer(client, poll_id, "q1", "yes", environ_base={"REMOTE_ADDR": "198.51.100.31"})
    assert other.status_code == 201
    assert count_rows(app, Respondent) == 4


def test_no_table_holds_the_client_address_or_user_agent(app, client, seed_poll_id):
    address = "203.0.113.77"
    user_agent = "DistinctiveBrowser/4.2 (Privacy Test)"
    walk(
        client,
        seed_poll_id,
        [("q1", "yes"), ("q2", "no")],
        environ_base={"REMOTE_ADDR": address},
        headers={"User-Agent": user_agent},
    )
    needles = [address, "203.0.113", user_agent, "DistinctiveBrowser"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 2
        found = []
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                text_column = db.cast(column, db.String)
                for needle in needles:
                    hits = db.session.scalar(
                        select(func.count())
                        .select_from(table)
                        .where(text_column.like(f"%{needle}%"))
                    )
                    if hits:
                        found.append((table.name, column.name, needle))
        assert found == []
        # And the address hash exists, so the check above looked at a populated table.
        respondent = db.session.scalars(select(Respondent)).one()
        assert len(respondent.address_hash) == 64
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 1


def test_rate_limit_storage_holds_no_raw_address(app_config):
    """Limits count by a keyed hash of the address, in memory and in Redis alike."""
    import os

    from pollserver import create_app
    from pollserver.extensions import limiter

    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": storage})
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    address = "203.0.113.99"
    response = answer(
        app.test_client(), poll_id, "q1", "yes", environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 201
    if storage.startswith("redis"):
        import redis

        client = redis.Redis.from_url(storage)
        # Every key: flask-limiter keeps the first app's key prefix for the whole process.
        keys = [key.decode() for key in client.scan_iter("*")]
        client.close()
    else:
        keys = [str(key) for key in limiter.storage.storage] + [
            str(key) for key in limiter.storage.events
        ]
    assert keys, "the limiter stored nothing: the check below would prove nothing"
    assert not any(address in key for key in keys)
    assert not any("203.0.113" in key for key in keys)
    with app.app_context():
        db.engine.dispose()


def test_public_limit_counts_reads_that_reach_the_database_not_reads_from_memory(
    app_config, monkeypatch
):
    from pollserver import create_app
    from pollserver.api import public

    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_PUBLIC="4/minute"
    )
    app = create_app(app_config)
    client = app.test_client()
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    with app.app_context():
        db.session.get(Poll, find_poll(db.session, poll_id).id).settings = {
            "results_visibility": "public"
        }
        db.session.commit()
    # Entries stay for the whole test, however slow the machine: which reads count must not
    # depend on timing here.
    for cache in (public.poll_documents, public.poll_facts):
        monkeypatch.setattr(cache, "seconds", 3600)
    address = {"REMOTE_ADDR": "198.51.100.40"}
    # Each endpoint counts on its own. The first poll read and the first results read go to
    # the database and count (1 of 4 each); the next twenty of each come from memory.
    for _ in range(21):
        assert client.get(f"/api/v1/polls/{poll_id}", environ_base=address).status_code == 200
        results = client.get(f"/api/v1/polls/{poll_id}/results", environ_base=address)
        assert results.status_code == 200
    # Unknown ids always reach the database: three more fit under the limit, the fourth not.
    for number in range(3):
        unknown = client.get(f"/api/v1/polls/NOSUCH0{number}", environ_base=address)
        assert unknown.status_code == 404
    refused = client.get("/api/v1/polls/NOSUCH03", environ_base=address)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Reads sent with a reader's token look the reader up, so they count too.
    reader = {"X-Poll-Respondent": "x" * 32}
    for _ in range(3):
        results = client.get(
            f"/api/v1/polls/{poll_id}/results", headers=reader, environ_base=address
        )
        assert results.status_code == 200
    limited = client.get(f"/api/v1/polls/{poll_id}/results", headers=reader, environ_base=address)
    assert limited.status_code == 429
    # Another address has its own allowance.
    other = client.get("/api/v1/polls/NOSUCH04", environ_base={"REMOTE_ADDR": "198.51.100.41"})
    assert other.status_code == 404


def test_an_answer_never_answers_304_and_carries_no_etag(app, client, seed_poll_id):
    first = answer(client, seed_poll_id, "q1", "yes")
    token = first.get_json()["respondent"]
    again = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q1", "answer": "yes"},
        headers={"If-None-Match": "*"},
    )
    assert again.status_code == 200
    assert again.get_json()["respondent"] == token
    assert "ETag" not in again.headers and "ETag" not in first.headers


def test_cors_preflights_count_against_the_public_limit(app_config):
    from pollserver import create_app

    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_PUBLIC="2/minute"
    )
    client = create_app(app_config).test_client()
    preflight = {
        "Origin": "https://news.example",
        "Access-Control-Request-Method": "POST",
    }
    statuses = [
        client.options("/api/v1/polls/NOSUCHID/answers", headers=preflight).status_code
        for _ in range(3)
    ]
    assert 429 not in statuses[:2]
    assert statuses[2] == 429
