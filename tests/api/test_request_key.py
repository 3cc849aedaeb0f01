"""A new reader's request key: a retried or repeated first answer never makes a second reader."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from pollserver.core.privacy import hash_token, respondent_token_for_key
from pollserver.extensions import db
from pollserver.models import Answer, Respondent

from helpers import (
    ARTICLES_DIR,
    SEED_DEFINITION,
    SEED_WITH_FLOWCHART,
    bearer,
    open_poll_from_article,
)

KEY = "Zm9yLXRoaXMtYnJvd3Nlcg"  # 22 characters: the base64url form of 16 bytes
OTHER_KEY = "YW5vdGhlci1icm93c2VyIQ"


def first_answer(client, poll_id, value="yes", key=KEY, node="q1", **extra):
    return client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": node, "answer": value, "request_key": key, **extra},
        environ_base={"REMOTE_ADDR": "198.51.100.60"},
    )


def stored(app) -> tuple[int, int]:
    """Respondents and answers in the database."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Respondent)),
            db.session.scalar(select(func.count()).select_from(Answer)),
        )


def test_a_retried_first_answer_names_the_same_reader_and_stores_nothing_twice(
    app, client, seed_poll_id
):
    created = first_answer(client, seed_poll_id)
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["respondent"]
    # Issued by the server from the key: unguessable without the app's secret.
    expected = respondent_token_for_key(app.config["SECRET_KEY"], seed_poll_id, 1, KEY)
    assert token == expected and len(token) == 32
    retried = first_answer(client, seed_poll_id)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json() == {**created.get_json()}  # the same progress, the same token
    assert stored(app) == (1, 1)
    results = client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()
    assert results["respondents"] == 1 and results["questions"]["q1"]["yes"] == 1
    # Another browser's key is another reader.
    other = first_answer(client, seed_poll_id, key=OTHER_KEY)
    assert other.status_code == 201
    assert other.get_json()["respondent"] != token
    assert stored(app) == (2, 2)


def test_a_second_tab_finds_the_reader_where_they_are(app, client, seed_poll_id):
    token = first_answer(client, seed_poll_id).get_json()["respondent"]
    finished = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "no"},
    )
    assert finished.get_json()["finished"] is True
    # A copy of the poll that never saw the token posts the first answer again.
    again = first_answer(client, seed_poll_id)
    assert again.status_code == 200
    body = again.get_json()
    assert body["respondent"] == token
    assert body["path"] == [{"node": "q1", "answer": "yes"}, {"node": "q2", "answer": "no"}]
    assert body["finished"] is True and body["outcomes"] == ["o2", "o4"]
    assert body["results"]["finished"] == 1  # public results come with the end, as to the reader
    assert stored(app) == (1, 2)


def test_another_first_answer_under_the_key_is_409_with_the_token_unless_changes_are_allowed(
    app, client, seed_poll_id
):
    token = first_answer(client, seed_poll_id, "yes").get_json()["respondent"]
    refused = first_answer(client, seed_poll_id, "no")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert "does not allow changing answers" in error["message"]
    assert error["details"] == {"node": "q1", "answer": "yes", "respondent": token}
    assert stored(app) == (1, 1)


def test_another_first_answer_under_the_key_changes_it_where_the_poll_allows(app, client):
    poll_id = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, results_visibility="public", allow_answer_changes=True
    )
    token = first_answer(client, poll_id, "yes").get_json()["respondent"]
    changed = first_answer(client, poll_id, "no")
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["respondent"] == token
    assert changed.get_json()["finished"] is True
    results = changed.get_json()["results"]
    assert results["respondents"] == 1
    assert (results["questions"]["q1"]["yes"], results["questions"]["q1"]["no"]) == (0, 1)
    assert stored(app) == (1, 1)


def test_the_key_names_a_reader_of_one_poll_and_one_version_only(app, client, tokens, seed_poll_id):
    first = first_answer(client, seed_poll_id).get_json()["respondent"]
    other_poll = open_poll_from_article(app, ARTICLES_DIR / "one_question.txt")
    elsewhere = first_answer(client, other_poll)
    assert elsewhere.status_code == 201
    assert elsewhere.get_json()["respondent"] != first

    # Version 2: q1's No leads to an outcome of its own.
    definition = copy.deepcopy(SEED_DEFINITION)
    definition["nodes"][0]["no"] = "o5"
    definition["nodes"].append({"id": "o5", "type": "outcome", "text": "None", "next": None})
    moderator = bearer(tokens["moderator"])
    created = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/versions", json=definition, headers=moderator
    )
    assert created.status_code == 201, created.get_json()
    opened = client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/status", json={"status": "open"}, headers=moderator
    )
    assert opened.status_code == 200
    # The same browser's key in version 2: a new reader there (o5 is version 2's own outcome).
    in_version_2 = first_answer(client, seed_poll_id, "no", version=2)
    assert in_version_2.status_code == 201, in_version_2.get_json()
    assert in_version_2.get_json()["respondent"] not in (first, elsewhere.get_json()["respondent"])
    assert in_version_2.get_json()["outcomes"] == ["o5"]
    assert stored(app) == (3, 3)


def test_without_a_key_every_first_answer_is_a_new_reader(app, client, seed_poll_id):
    replies = [first_answer(client, seed_poll_id, key=None) for _ in range(2)]
    assert [reply.status_code for reply in replies] == [201, 201]
    assert replies[0].get_json()["respondent"] != replies[1].get_json()["respondent"]
    assert stored(app) == (2, 2)


def test_a_key_sent_with_a_token_is_ignored(app, client, seed_poll_id):
    token = first_answer(client, seed_poll_id, key=None).get_json()["respondent"]
    reply = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "yes", "request_key": KEY},
    )
    assert reply.status_code == 200 and reply.get_json()["respondent"] == token
    # The key started no one: it is still free for a first answer.
    assert first_answer(client, seed_poll_id).status_code == 201
    assert stored(app) == (2, 3)


@pytest.mark.parametrize(
    "key",
    ["short-key", "x" * 65, "has spaces in it!!", "ümlaut-ümlaut-ümlaut", "a/b+c=" * 4, 12345678],
)
def test_a_malformed_key_is_422_at_request_key_and_stores_nothing(app, client, seed_poll_id, key):
    refused = first_answer(client, seed_poll_id, key=key)
    assert refused.status_code == 422
    details = refused.get_json()["error"]["details"]
    assert list(details["fields"]) == ["request_key"]
    if isinstance(key, str):
        assert details["fields"]["request_key"] == [
            "a request key is 16 to 64 characters of A-Z a-z 0-9 _ -"
        ]
    assert stored(app) == (0, 0)


def test_the_daily_cap_counts_new_readers_never_a_keyed_retry(app, client):
    app.config["RESPONDENTS_PER_ADDRESS_PER_DAY"] = 1
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    token = first_answer(client, poll_id).get_json()["respondent"]
    for _ in range(3):
        retried = first_answer(client, poll_id)
        assert retried.status_code == 200 and retried.get_json()["respondent"] == token
    capped = first_answer(client, poll_id, key=OTHER_KEY)
    assert capped.status_code == 429
    assert capped.get_json()["error"]["details"]["reason"] == "proof_of_work"
    assert stored(app) == (1, 1)


def test_the_database_keeps_only_the_hash_of_a_keyed_token(app, client, seed_poll_id):
    token = first_answer(client, seed_poll_id).get_json()["respondent"]
    with app.app_context():
        hashes = db.session.scalars(select(Respondent.token_hash)).all()
    assert hashes == [hash_token(token)]
