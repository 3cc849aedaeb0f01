"""The results arithmetic alone: Wilson intervals by hand, and properties for random trees."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollserver.core import counters
from pollserver.core.results import assemble_results, wilson_interval
from pollserver.core.tree import NO, YES, PollTree


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
        tree, counts, poll_id="p", version=1, min_respondents=0, as_of=dt.datetime.now(dt.UTC)
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
        tree, counts, poll_id="p", version=1, min_respondents=10, as_of=dt.datetime.now(dt.UTC)
    )
    assert results["shares_published"] is False
    assert results["questions"]["q1"]["yes"] == respondents
    assert results["questions"]["q1"]["yes_share"] is None
