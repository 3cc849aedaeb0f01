"""An editor's changes to a tree (add, remove) and the three-way merge with an article's changes."""

from __future__ import annotations

import copy

import pytest

from pollserver.core.definition import NodeType, validate_definition
from pollserver.core.tree_edits import TreeEditError, add_node, ending_branches, remove_nodes
from pollserver.core.tree_merge import merge_definitions

from helpers import SEED_DEFINITION


def edited(**texts: str) -> dict:
    definition = copy.deepcopy(SEED_DEFINITION)
    for node in definition["nodes"]:
        node["text"] = texts.get(node["id"], node["text"])
    return definition


def test_a_node_goes_only_where_a_path_ends_and_takes_a_free_id():
    assert ("q1", "no") in ending_branches(SEED_DEFINITION)
    grown, key = add_node(SEED_DEFINITION, ("q1", "no"), NodeType.OUTCOME, "No alliance")
    assert key == "o5" and grown["nodes"][0]["no"] == "o5"
    validate_definition(grown)
    assert SEED_DEFINITION["nodes"][0]["no"] is None  # the original is untouched
    with pytest.raises(TreeEditError, match="does not end"):
        add_node(SEED_DEFINITION, ("q1", "yes"), NodeType.OUTCOME, "x")
    with pytest.raises(TreeEditError, match="only be followed by another outcome"):
        add_node(SEED_DEFINITION, ("o3", "next"), NodeType.QUESTION, "x?")


def test_removing_a_node_ends_the_branches_that_led_to_it():
    smaller = remove_nodes(SEED_DEFINITION, ["o3"])
    assert [node["id"] for node in smaller["nodes"]] == ["q1", "q2", "o1", "o2", "o4"]
    assert smaller["nodes"][2]["next"] is None
    with pytest.raises(TreeEditError, match="cannot be removed"):
        remove_nodes(SEED_DEFINITION, ["q1"])


def test_changes_on_different_nodes_merge_and_are_described():
    ours = edited(q2="Was the operation a success?")
    theirs = edited(o2="The operation went badly")
    merge = merge_definitions(SEED_DEFINITION, ours, theirs)
    assert merge.conflicts == []
    assert merge.definition == edited(
        q2="Was the operation a success?", o2="The operation went badly"
    )
    assert merge.article_changes == ["o2: “Operation failed” → “The operation went badly”"]


def test_an_editors_new_branch_survives_the_articles_new_wording():
    ours, _ = add_node(SEED_DEFINITION, ("q1", "no"), NodeType.OUTCOME, "No alliance")
    theirs = edited(q1="Did Russia let North Korean troops fight?")
    merged = merge_definitions(SEED_DEFINITION, ours, theirs).definition
    assert merged["nodes"][0] == {
        "id": "q1", "type": "question", "text": "Did Russia let North Korean troops fight?",
        "yes": "q2", "no": "o5",
    }  # fmt: skip
    assert merged["nodes"][-1]["text"] == "No alliance"


def test_the_same_thing_changed_on_both_sides_is_a_conflict_not_a_guess():
    merge = merge_definitions(SEED_DEFINITION, edited(q2="Ours?"), edited(q2="Theirs?"))
    assert merge.definition is None
    assert merge.conflicts == ["q2 text was changed here and in the article"]
    removed_here = remove_nodes(SEED_DEFINITION, ["o3"])
    merge = merge_definitions(SEED_DEFINITION, removed_here, edited(o3="Reworded"))
    assert merge.conflicts == ["o3 was removed here, and changed on the other side"]
    assert (
        merge_definitions(SEED_DEFINITION, edited(q2="Same?"), edited(q2="Same?")).conflicts == []
    )
