"""Results: every number for scripted walks, by hand; the arithmetic's properties; the CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollserver.core import counters
from pollserver.core.results import SELF_SELECTED_NOTE, assemble_results, wilson_interval
from pollserver.core.tree import NO, YES, PollTree
from pollserver.services import tallies

from conftest import SEED_WITH_FLOWCHART, open_poll_from_article, walk

# Five readers take yes/yes, three yes/no, two say no at once, one says yes and stops.
SCRIPTED_WALKS = (
    [[("q1", "yes"), ("q2", "yes")]] * 5
    + [[("q1", "yes"), ("q2", "no")]] * 3
    + [[("q1", "no")]] * 2
    + [[("q1", "yes")]]
)

# Worked out by hand from the walks above (Wilson bounds from the textbook formula with
# z = 1.96, rounded outwards to 4 places: 9/11 → 0.5230–0.9486, 5/8 → 0.3057–0.8632).
EXPECTED_NUMBERS = {
    "respondents": 11,
    "finished": 10,
    "shares_published": True,
    "min_respondents": 10,
    "note": SELF_SELECTED_NOTE,
    "questions": {
        "q1": {
            "reached": 11,
            "yes": 9,
            "no": 2,
            "not_answered": 0,
            "yes_share": 0.8182,
            "yes_interval": [0.523, 0.9487],
        },
        "q2": {
            "reached": 9,
            "yes": 5,
            "no": 3,
            "not_answered": 1,
            "yes_share": 0.625,
            "yes_interval": [0.3057, 0.8632],
        },
    },
    "outcomes": {
        "o1": {"reached": 5, "share_of_finished": 0.5},
        "o2": {"reached": 3, "share_of_finished": 0.3},
        "o3": {"reached": 5, "share_of_finished": 0.5},
        "o4": {"reached": 3, "share_of_finished": 0.3},
    },
    "paths": [
        {
            "nodes": ["q1", "q2"],
            "answers": ["yes", "yes"],
            "outcomes": ["o1", "o3"],
            "respondents": 5,
            "share_of_finished": 0.5,
        },
        {
            "nodes": ["q1", "q2"],
            "answers": ["yes", "no"],
            "outcomes": ["o2", "o4"],
            "respondents": 3,
            "share_of_finished": 0.3,
        },
        {
            "nodes": ["q1"],
            "answers": ["no"],
            "outcomes": [],
            "respondents": 2,
            "share_of_finished": 0.2,
        },
    ],
}
ANSWERS_GIVEN = 5 * 2 + 3 * 2 + 2 + 1


def post_walks(client, poll_id, walks):
    for steps in walks:
        walk(client, poll_id, steps)


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
    assert results == {"poll": seed_poll_id, **EXPECTED_NUMBERS}
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


def test_results_command_prints_the_same_numbers(app, client, runner, seed_poll_id):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS)
    as_json = runner.invoke(args=["results", seed_poll_id, "--json"])
    assert as_json.exit_code == 0
    document = json.loads(as_json.output)
    document.pop("as_of")
    document.pop("hourly")
    assert document == {"poll": seed_poll_id, **EXPECTED_NUMBERS}

    table = runner.invoke(args=["results", seed_poll_id])
    assert table.exit_code == 0
    assert "11 respondents, 10 finished" in table.output
    assert "81.8% (52.3–94.9%)" in table.output
    assert "q1 no" in table.output and SELF_SELECTED_NOTE in table.output

    missing = runner.invoke(args=["results", "nosuchid"])
    assert missing.exit_code == 1
    assert "no poll 'nosuchid'" in missing.output


def test_results_command_ignores_visibility(app, client, runner):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="private")
    post_walks(client, poll_id, SCRIPTED_WALKS[:2])
    assert client.get(f"/api/v1/polls/{poll_id}/results").status_code == 403
    assert "2 respondents" in runner.invoke(args=["results", poll_id]).output


# --- the arithmetic alone ----------------------------------------------------------------------


def test_wilson_interval_by_hand():
    low, high = wilson_interval(9, 11)
    assert round(low, 4) == 0.523 and round(high, 4) == 0.9486
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 5)
    assert low == 0.0 and 0.43 < high < 0.44  # 0/5 → (0, 0.4345)
    low, high = wilson_interval(5, 5)
    assert 0.56 < low < 0.57 and high == 1.0


@st.composite
def trees(draw):
    """Random chains of 1–6 questions; each branch continues, ends, or reaches outcome chains."""
    count = draw(st.integers(1, 6))
    questions = [f"q{number}" for number in range(1, count + 1)]
    nodes = []
    outcome_number = 0

    def outcome_chain() -> str:
        nonlocal outcome_number
        length = draw(st.integers(1, 3))
        keys = [f"o{outcome_number + index + 1}" for index in range(length)]
        outcome_number += length
        for index, key in enumerate(keys):
            following = keys[index + 1] if index + 1 < length else None
            nodes.append({"id": key, "type": "outcome", "text": key, "next": following})
        return keys[0]

    for index, key in enumerate(questions):
        following = questions[index + 1] if index + 1 < count else None
        branches = {}
        for branch in (YES, NO):
            choice = draw(st.sampled_from(["next", "end", "outcome"]))
            if choice == "next" and following and "next" not in branches.values():
                branches[branch] = following
            elif choice == "outcome":
                branches[branch] = outcome_chain()
            else:
                branches[branch] = None
        if following and following not in branches.values():
            branches[YES] = following
        nodes.insert(index, {"id": key, "type": "question", "text": key, **branches})
    return PollTree.from_definition({"title": "t", "root": "q1", "nodes": nodes})


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_results_add_up_for_any_set_of_walks(data):
    tree = data.draw(trees())
    counts: Counter[str] = Counter()
    walks = data.draw(st.lists(st.lists(st.sampled_from([YES, NO]), max_size=8), max_size=40))
    for sequence in walks:
        if not sequence:
            continue  # a reader exists only once they have answered
        counts += counters.walk_contributions(tree.walk_answers(sequence))
    results = assemble_results(
        tree, counts, poll_id="p", min_respondents=0, as_of=dt.datetime.now(dt.UTC)
    )
    questions = results["questions"]
    assert questions["q1"]["reached"] == results["respondents"]
    for key, row in questions.items():
        assert row["yes"] + row["no"] + row["not_answered"] == row["reached"]
        assert row["not_answered"] >= 0
        node = tree.nodes[key]
        # Counts flow along every branch into the node it leads to.
        for branch, count in ((node.yes, row["yes"]), (node.no, row["no"])):
            if branch is not None and tree.nodes[branch].type == "question":
                parents = [
                    questions[other.key][answer]
                    for other in tree.questions()
                    for answer, target in ((YES, other.yes), (NO, other.no))
                    if target == branch
                ]
                assert questions[branch]["reached"] == sum(parents)
                assert count <= questions[branch]["reached"]
        share = row["yes_share"]
        if row["yes"] + row["no"]:
            assert 0.0 <= share <= 1.0
            low, high = row["yes_interval"]
            assert 0.0 <= low <= share <= high <= 1.0
        else:
            assert share is None and row["yes_interval"] is None
    assert sum(path["respondents"] for path in results["paths"]) == results["finished"]
    for row in results["outcomes"].values():
        assert row["reached"] <= results["finished"]
        if results["finished"]:
            assert 0.0 <= row["share_of_finished"] <= 1.0


@pytest.mark.parametrize("respondents", [0, 1, 9])
def test_small_samples_hide_every_share(respondents):
    tree = PollTree.from_definition(
        {
            "title": "t",
            "root": "q1",
            "nodes": [{"id": "q1", "type": "question", "text": "?", "yes": None, "no": None}],
        }
    )
    counts = Counter()
    for _ in range(respondents):
        counts += counters.walk_contributions(tree.walk_answers([YES]))
    results = assemble_results(
        tree, counts, poll_id="p", min_respondents=10, as_of=dt.datetime.now(dt.UTC)
    )
    assert results["shares_published"] is False
    assert results["questions"]["q1"]["yes"] == respondents
    assert results["questions"]["q1"]["yes_share"] is None


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
