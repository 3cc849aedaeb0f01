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
            choice = draw(st.sampled_from(["next", "end", "outcome", "join"]))
            if choice == "next" and following and "next" not in branches.values():
                branches[branch] = following
            elif choice == "outcome":
                branches[branch] = outcome_chain()
            elif choice == "join" and outcome_number:
                # Branches may join: two answers leading into one outcome chain.
                branches[branch] = f"o{draw(st.integers(1, outcome_number))}"
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
    assert sum(ending["respondents"] for ending in results["endings"]) == results["finished"]
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


def ending_of(walk) -> tuple:
    """Where a finished walk ended, worked out from the walk itself."""
    if walk.outcomes:
        return ("outcomes", *walk.outcomes)
    key, answer = walk.path[-1]
    return ("end", key, answer)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_endings_count_every_finished_reader_once_through_changes_hiding_and_restoring(data):
    """Readers start, change answers, are hidden and restored, each change applied to the
    counters as the services apply it (new contributions minus old); the endings always add
    up to the finished readers and count each visible finished reader where their walk ended."""
    tree = data.draw(trees())
    answers_of: list[dict[str, str]] = []
    hidden: list[bool] = []
    counts: Counter[str] = Counter()

    def contribution(number: int) -> Counter[str]:
        if hidden[number]:
            return Counter()
        return counters.walk_contributions(tree.walk(answers_of[number]))

    def answer_on(number: int) -> None:
        """The reader answers their current question, or changes one on their path (and loses
        the answers below it), as answering.record_next_answer does."""
        walk = tree.walk(answers_of[number])
        given = dict(answers_of[number])
        keys = [key for key, _ in walk.path]
        if walk.current is not None and not data.draw(st.booleans()):
            given[walk.current] = data.draw(st.sampled_from([YES, NO]))
        elif keys:
            key = data.draw(st.sampled_from(keys))
            for below in walk.keys_below(key):
                del given[below]
            given[key] = NO if given[key] == YES else YES
        answers_of[number] = given

    for _ in range(data.draw(st.integers(1, 40))):
        action = data.draw(st.sampled_from(["start", "answer", "hide", "restore"]))
        if action == "start" or not answers_of:
            answers_of.append({tree.root: data.draw(st.sampled_from([YES, NO]))})
            hidden.append(False)
            counts += contribution(len(answers_of) - 1)
            continue
        number = data.draw(st.integers(0, len(answers_of) - 1))
        before = contribution(number)
        if action == "answer":
            answer_on(number)
        else:
            hidden[number] = action == "hide"
        after = contribution(number)
        counts.update(counters.difference(after, before))

    results = assemble_results(
        tree, counts, poll_id="p", version=1, min_respondents=0, as_of=dt.datetime.now(dt.UTC)
    )
    endings = results["endings"]
    assert sum(ending["respondents"] for ending in endings) == results["finished"]
    expected: Counter[tuple] = Counter(
        ending_of(walk)
        for number, given in enumerate(answers_of)
        if not hidden[number] and (walk := tree.walk(given)).finished
    )
    found = {
        ("outcomes", *ending["outcomes"])
        if ending["outcomes"]
        else ("end", ending["node"], ending["answer"]): ending["respondents"]
        for ending in endings
    }
    assert found == dict(expected)
    assert [ending["respondents"] for ending in endings] == sorted(
        (ending["respondents"] for ending in endings), reverse=True
    )
    for ending in endings:
        assert ending["respondents"] > 0
        low, high = ending["interval"]
        assert 0.0 <= low <= ending["share_of_finished"] <= high <= 1.0
        if not ending["outcomes"]:
            # An answer that ends the walk without an outcome really leads nowhere.
            node = tree.nodes[ending["node"]]
            assert (node.yes if ending["answer"] == YES else node.no) is None


def test_branches_joining_one_outcome_chain_are_one_ending_named_by_the_busier_branch():
    tree = PollTree.from_definition(
        {
            "title": "t",
            "root": "q1",
            "nodes": [
                {"id": "q1", "type": "question", "text": "?", "yes": "q2", "no": "o1"},
                {"id": "q2", "type": "question", "text": "?", "yes": "o1", "no": None},
                {"id": "o1", "type": "outcome", "text": "o", "next": None},
            ],
        }
    )
    counts: Counter[str] = Counter()
    for sequence, readers in (([NO], 2), ([YES, YES], 3), ([YES, NO], 1)):
        for _ in range(readers):
            counts += counters.walk_contributions(tree.walk_answers(sequence))
    results = assemble_results(
        tree, counts, poll_id="p", version=1, min_respondents=10, as_of=dt.datetime.now(dt.UTC)
    )
    assert results["endings"] == [
        {
            "outcomes": ["o1"],
            "node": "q2",
            "answer": "yes",
            "respondents": 5,
            "share_of_finished": None,  # 6 readers: below the minimum, counts only
            "interval": None,
        },
        {
            "outcomes": [],
            "node": "q2",
            "answer": "no",
            "respondents": 1,
            "share_of_finished": None,
            "interval": None,
        },
    ]
