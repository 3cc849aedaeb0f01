"""Results through the API: every number for scripted walks, by hand; caching; the documents."""

from __future__ import annotations

import datetime as dt

from pollserver.core import counters
from pollserver.core.results import SELF_SELECTED_NOTE
from pollserver.services import tallies

from helpers import SEED_WITH_FLOWCHART, bearer, open_poll_from_article, walk
from scripted_walks import ANSWERS_GIVEN, EXPECTED_NUMBERS, SCRIPTED_WALKS, post_walks


def test_every_number_for_scripted_walks_matches_the_hand_computation(app, client, seed_poll_id):
    # Sum the tallies on every read: the last walk does not finish, so it does not renew a cache.
    app.config["RESULTS_CACHE_SECONDS"] = 0
    post_walks(client, seed_poll_id, SCRIPTED_WALKS)
    response = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert response.status_code == 200
    results = response.get_json()
    as_of = dt.datetime.fromisoformat(results.pop("as_of"))
    assert abs(dt.datetime.now(dt.UTC) - as_of) < dt.timedelta(minutes=1)
    hourly = results.pop("hourly")
    assert results == {"poll": seed_poll_id, "version": 1, **EXPECTED_NUMBERS}
    assert sum(hour["answers"] for hour in hourly) == ANSWERS_GIVEN
    assert len(hourly) in (1, 2)  # the walks may straddle an hour boundary
    assert all(hour["hour"].endswith(":00:00Z") for hour in hourly)


def test_below_the_minimum_only_counts_are_published(client, seed_poll_id):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:4])
    results = client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()
    assert results["respondents"] == 4
    assert results["shares_published"] is False
    assert results["note"] == SELF_SELECTED_NOTE
    assert results["questions"]["q1"]["yes"] == 4
    assert results["questions"]["q1"]["yes_share"] is None
    assert results["questions"]["q1"]["yes_interval"] is None
    assert results["outcomes"]["o1"] == {"reached": 4, "share_of_finished": None}
    assert results["paths"][0]["share_of_finished"] is None


def test_results_have_an_etag_and_a_brief_cache(client, seed_poll_id):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:1])
    first = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert first.headers["Cache-Control"] == "public, max-age=2"
    again = client.get(
        f"/api/v1/polls/{seed_poll_id}/results", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304
    # A reader who finishes in this process renews the cached document at once.
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:1])
    fresh = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert fresh.get_json()["respondents"] == 2
    assert fresh.headers["ETag"] != first.headers["ETag"]


def test_an_answer_that_does_not_finish_leaves_the_cached_results_until_they_expire(
    client, seed_poll_id
):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:1])
    first = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert first.get_json()["respondents"] == 1
    # A new reader who has not finished: the cache is neither emptied nor renewed, so a busy
    # poll's answers never force every read to sum the tallies again.
    walk(client, seed_poll_id, [("q1", "yes")])
    cached = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert cached.get_json()["respondents"] == 1
    assert cached.headers["ETag"] == first.headers["ETag"]
    # The reader who finishes sees themselves and the one before them counted.
    finished = walk(client, seed_poll_id, [("q1", "no")]).get_json()
    assert finished["results"]["respondents"] == 3
    assert client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()["respondents"] == 3


def test_documents_sent_without_marshmallow_are_exactly_what_their_schemas_dump(
    client, seed_poll_id
):
    from pollserver.api.schemas import ProgressSchema, ResultsSchema

    post_walks(client, seed_poll_id, SCRIPTED_WALKS)
    results = client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()
    assert ResultsSchema().dump(results) == results
    assert ResultsSchema().validate(results) == {}
    progress = walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")]).get_json()
    assert progress["results"] is not None
    assert ProgressSchema().dump(progress) == progress
    assert ProgressSchema().validate(progress) == {}


def test_results_cache_can_be_turned_off(app, client, seed_poll_id):
    app.config["RESULTS_CACHE_SECONDS"] = 0
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:1])
    first = client.get(f"/api/v1/polls/{seed_poll_id}/results")
    assert first.headers["Cache-Control"] == "public, max-age=0"
    # Another process's answer (written straight to the tallies here) shows at once.

    from pollserver.extensions import db
    from pollserver.services.polls import find_poll

    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        tallies.apply_counts(db.session, poll.id, {counters.STARTED: 1})
        db.session.commit()
    assert client.get(f"/api/v1/polls/{seed_poll_id}/results").get_json()["respondents"] == 2


def test_endings_follow_answer_changes_and_hidden_readers(app, client, tokens):
    app.config["RESULTS_CACHE_SECONDS"] = 0
    poll_id = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, results_visibility="public", allow_answer_changes=True
    )

    def endings() -> dict[tuple, int]:
        results = client.get(f"/api/v1/polls/{poll_id}/results").get_json()
        found = {
            (tuple(ending["outcomes"]), ending["node"], ending["answer"]): ending["respondents"]
            for ending in results["endings"]
        }
        assert sum(found.values()) == results["finished"]
        return found

    walk(client, poll_id, [("q1", "yes"), ("q2", "yes")], "203.0.113.1")
    changer = walk(client, poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.2")
    for _ in range(2):
        walk(client, poll_id, [("q1", "no")], "198.51.100.7")
    assert endings() == {
        (("o1", "o3"), "q2", "yes"): 1,
        (("o2", "o4"), "q2", "no"): 1,
        ((), "q1", "no"): 2,  # ended at a No that leads to no outcome: their own ending
    }
    # A reader changes their last answer: they move from one ending to the other.
    token = changer.get_json()["respondent"]
    changed = client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": token, "node": "q2", "answer": "yes"},
    )
    assert changed.status_code == 200
    assert endings() == {(("o1", "o3"), "q2", "yes"): 2, ((), "q1", "no"): 2}
    # ...then their first: now they end at q1's No, with no outcome.
    client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": token, "node": "q1", "answer": "no"},
    )
    assert endings() == {(("o1", "o3"), "q2", "yes"): 1, ((), "q1", "no"): 3}
    # A moderator hides the two readers from one address, then restores them.
    moderator = bearer(tokens["moderator"])
    groups = client.get(
        f"/api/v1/admin/polls/{poll_id}/activity/groups", headers=moderator
    ).get_json()["groups"]
    spike = {"address_hash": next(g for g in groups if g["respondents"] == 2)["address_hash"]}
    hidden = client.post(
        f"/api/v1/admin/polls/{poll_id}/responses/hide", json=spike, headers=moderator
    )
    assert hidden.status_code == 200, hidden.get_json()
    assert endings() == {(("o1", "o3"), "q2", "yes"): 1, ((), "q1", "no"): 1}
    restored = client.post(
        f"/api/v1/admin/polls/{poll_id}/responses/restore", json=spike, headers=moderator
    )
    assert restored.status_code == 200, restored.get_json()
    assert endings() == {(("o1", "o3"), "q2", "yes"): 1, ((), "q1", "no"): 3}
