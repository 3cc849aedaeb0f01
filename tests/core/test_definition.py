"""The canonical poll definition schema: hand examples for every rule, then random trees."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from pollserver.core.definition import (
    MAX_NODES,
    MAX_TEXT_LENGTH,
    DefinitionError,
    PollDefinitionSchema,
    definition_warnings,
    validate_definition,
)

from helpers import SEED_DEFINITION

ALLIANCE = SEED_DEFINITION  # the definition DESIGN.md shows for seeds/001


def alliance() -> dict[str, Any]:
    return copy.deepcopy(ALLIANCE)


def node(definition: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in definition["nodes"] if n["id"] == node_id)


def rejection(definition: object) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    error = caught.value
    assert "\n" not in str(error)
    return error


# Valid definitions ------------------------------------------------------------------------------


def test_the_design_example_loads_unchanged_and_in_canonical_key_order() -> None:
    loaded = validate_definition(alliance())
    assert loaded == ALLIANCE
    assert json.dumps(loaded) == json.dumps(ALLIANCE)  # same key order too


def test_dump_of_a_loaded_definition_returns_it_unchanged() -> None:
    schema = PollDefinitionSchema()
    loaded = schema.load(alliance())
    assert json.dumps(schema.dump(loaded)) == json.dumps(loaded)


def test_load_strips_texts_orders_keys_and_fills_missing_branches_with_null() -> None:
    loaded = validate_definition(
        {
            "nodes": [
                {"text": "  Done \n", "type": "outcome", "id": "end"},
                {"yes": "end", "text": "\tReady? ", "id": "start", "type": "question"},
            ],
            "root": "start",
            "title": "  Title ",
        }
    )
    assert json.dumps(loaded) == json.dumps(
        {
            "title": "Title",
            "root": "start",
            "nodes": [
                {"id": "end", "type": "outcome", "text": "Done", "next": None},
                {"id": "start", "type": "question", "text": "Ready?", "yes": "end", "no": None},
            ],
        }
    )


def test_texts_of_exactly_the_limit_and_unicode_are_accepted() -> None:
    definition = alliance()
    node(definition, "q1")["text"] = "é" * MAX_TEXT_LENGTH
    node(definition, "o1")["text"] = "Ответ 答え 🗳️"
    definition["title"] = "t" * MAX_TEXT_LENGTH
    assert validate_definition(definition) == definition


def test_a_single_question_with_both_branches_ending_is_valid() -> None:
    definition = {
        "title": "T",
        "root": "q",
        "nodes": [{"id": "q", "type": "question", "text": "Q?", "yes": None, "no": None}],
    }
    assert validate_definition(definition) == definition


def test_shared_outcomes_are_allowed_when_there_is_no_cycle() -> None:
    definition = alliance()
    node(definition, "q1")["no"] = "o2"  # q1 and q2 both lead to o2: a DAG, not a cycle
    assert validate_definition(definition)["nodes"][0]["no"] == "o2"


# Warnings ---------------------------------------------------------------------------------------


def test_warnings_name_each_branch_that_ends_the_poll() -> None:
    assert definition_warnings(ALLIANCE) == ["question q1: the No branch ends the poll"]
    definition = alliance()
    node(definition, "q2")["yes"] = None
    assert definition_warnings(definition) == [
        "question q1: the No branch ends the poll",
        "question q2: the Yes branch ends the poll",
    ]


def test_warnings_note_yes_and_no_leading_to_the_same_node() -> None:
    definition = alliance()
    node(definition, "q2")["no"] = "o1"
    assert "question q2: Yes and No both lead to node 'o1'" in definition_warnings(definition)


# Every rule, by hand ----------------------------------------------------------------------------


def test_a_dangling_reference_names_the_node_and_the_missing_id() -> None:
    definition = alliance()
    node(definition, "q2")["yes"] = "q9"
    error = rejection(definition)
    assert "node q2: 'yes' refers to unknown node 'q9'" in error.messages["nodes"]["q2"]
    assert str(error).startswith("node q2: 'yes' refers to unknown node 'q9'")


def test_a_cycle_is_shown_as_its_path() -> None:
    definition = alliance()
    node(definition, "q2")["no"] = "q1"
    error = rejection(definition)
    assert error.messages["nodes"]["q1"] == ["node q1: cycle q1 → q2 → q1"]


def test_a_cycle_of_outcomes_is_rejected() -> None:
    definition = alliance()
    node(definition, "o3")["next"] = "o1"
    assert "node o1: cycle o1 → o3 → o1" in str(rejection(definition))


def test_an_unreachable_node_is_named() -> None:
    definition = alliance()
    definition["nodes"].append({"id": "o7", "type": "outcome", "text": "Orphan", "next": None})
    error = rejection(definition)
    assert error.messages == {"nodes": {"o7": ["node o7 is not reachable from the root"]}}
    assert str(error) == "node o7 is not reachable from the root"


def test_a_duplicate_id_is_rejected() -> None:
    definition = alliance()
    definition["nodes"].append(dict(definition["nodes"][0]))
    assert rejection(definition).messages == {"nodes": {"q1": ["duplicate node id 'q1'"]}}


def test_the_root_must_be_a_question() -> None:
    definition = alliance()
    definition["root"] = "o1"
    assert "root 'o1' is not a question" in rejection(definition).messages["root"]


def test_the_root_must_exist() -> None:
    definition = alliance()
    definition["root"] = "q9"
    assert str(rejection(definition)) == "root refers to unknown node 'q9'"


def test_a_text_longer_than_the_limit_is_rejected() -> None:
    definition = alliance()
    node(definition, "q1")["text"] = "x" * (MAX_TEXT_LENGTH + 1)
    error = rejection(definition)
    assert error.messages == {"nodes": {"q1": ["node q1: text is longer than 280 characters"]}}


def test_an_over_long_title_is_rejected() -> None:
    definition = alliance()
    definition["title"] = "x" * (MAX_TEXT_LENGTH + 1)
    assert str(rejection(definition)) == "title is longer than 280 characters"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t "])
def test_an_empty_text_or_title_is_rejected(blank: str) -> None:
    definition = alliance()
    node(definition, "o2")["text"] = blank
    assert str(rejection(definition)) == "node o2: text is empty"
    definition = alliance()
    definition["title"] = blank
    assert str(rejection(definition)) == "title is empty"


def test_more_than_the_maximum_number_of_nodes_is_rejected() -> None:
    definition = alliance()
    last = definition["nodes"][-1]
    while len(definition["nodes"]) <= MAX_NODES:  # chain further outcomes after o4
        extra = {"id": f"o{len(definition['nodes'])}", "type": "outcome", "text": "More"}
        last["next"] = extra["id"]
        definition["nodes"].append(extra)
        last = extra
    assert str(rejection(definition)) == "a poll has at most 50 nodes, this one has 51"
    definition["nodes"].pop()
    definition["nodes"][-1]["next"] = None
    assert len(validate_definition(definition)["nodes"]) == MAX_NODES


def test_an_outcome_must_not_lead_to_a_question() -> None:
    definition = alliance()
    node(definition, "o3")["next"] = "q2"
    message = "node o3: 'next' must lead to an outcome, but 'q2' is a question"
    assert message in rejection(definition).messages["nodes"]["o3"]


def test_unknown_keys_are_rejected_at_both_levels() -> None:
    definition = alliance()
    definition["colour"] = "red"
    node(definition, "q2")["hint"] = "think"
    error = rejection(definition)
    assert error.messages["colour"] == ["unknown key 'colour'"]
    assert error.messages["nodes"]["q2"] == ["node q2: unknown key 'hint'"]


def test_keys_that_do_not_fit_the_node_type_are_rejected() -> None:
    definition = alliance()
    node(definition, "q1")["next"] = "o1"
    node(definition, "o1")["yes"] = None
    error = rejection(definition)
    assert error.messages["nodes"]["q1"] == [
        "node q1: a question has no 'next' (it branches on 'yes' and 'no')"
    ]
    assert error.messages["nodes"]["o1"] == ["node o1: an outcome has no 'yes' (use 'next')"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(title=5), "title must be a string"),
        (lambda d: d.update(root=None), "'root' must not be null"),
        (lambda d: d.pop("root"), "'root' is missing"),
        (lambda d: d.update(nodes={"q1": {}}), "'nodes' must be a list of nodes"),
        (lambda d: d.update(nodes=[]), "'nodes' is empty"),
        (lambda d: d["nodes"].__setitem__(1, "q2"), "node #2: a node must be a JSON object"),
        (lambda d: d["nodes"][1].update(type="answer"), "node q2: 'type' must be 'question'"),
        (lambda d: d["nodes"][1].update(id=2), "node #2: 'id' must be a node id"),
        (lambda d: d["nodes"][1].update(id="q 2"), "node #2: 'id' must be a node id"),
        (lambda d: d["nodes"][1].update(id="q2\n"), "node #2: 'id' must be a node id"),
        (lambda d: d["nodes"][1].update(id="x" * 33), "node #2: 'id' must be a node id"),
        (lambda d: d["nodes"][1].update(yes=["o1"]), "node q2: 'yes' must be a node id or null"),
        (lambda d: d["nodes"][2].update(text=None), "node o1: text must not be null"),
        (lambda d: d["nodes"][2].pop("text"), "node o1: text is missing"),
    ],
)
def test_wrong_types_and_missing_keys_are_rejected(
    change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    definition = alliance()
    change(definition)
    assert expected in str(rejection(definition))


@pytest.mark.parametrize("value", [None, "text", 42, ["q1"]])
def test_a_definition_must_be_an_object(value: object) -> None:
    assert str(rejection(value)) == "a poll definition must be a JSON object"


def test_several_problems_are_joined_into_one_line() -> None:
    definition = alliance()
    node(definition, "q2")["yes"] = "q9"
    definition["nodes"].append({"id": "o7", "type": "outcome", "text": "Orphan"})
    message = str(rejection(definition))
    assert "node q2: 'yes' refers to unknown node 'q9'; " in message
    assert message.endswith("node o7 is not reachable from the root")


def test_the_schema_itself_raises_marshmallow_validation_errors() -> None:
    definition = alliance()
    definition["root"] = "o1"
    with pytest.raises(ValidationError) as caught:
        PollDefinitionSchema().load(definition)
    assert caught.value.messages == {"root": ["root 'o1' is not a question"]}


# Random trees -----------------------------------------------------------------------------------

CONTROLS = "".join(map(chr, [*range(0x20), 0x7F]))
node_ids = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
texts = (
    # Any text a reader could see: every character but the C0 controls and DEL.
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=CONTROLS),
        min_size=1,
        max_size=MAX_TEXT_LENGTH,
    )
    .map(str.strip)
    .filter(bool)
    .filter(lambda text: len(text) <= MAX_TEXT_LENGTH)
)


@st.composite
def valid_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A random tree: each new node fills an open branch of an earlier one, so all are reachable."""
    size = draw(st.integers(min_value=1, max_value=MAX_NODES))
    ids = draw(st.lists(node_ids, min_size=size, max_size=size, unique=True))
    nodes: list[dict[str, Any]] = [
        {"id": ids[0], "type": "question", "text": draw(texts), "yes": None, "no": None}
    ]
    open_branches = [(0, "yes"), (0, "no")]
    while len(nodes) < size:
        parent, key = open_branches.pop(draw(st.integers(0, len(open_branches) - 1)))
        kind = "outcome" if key == "next" else draw(st.sampled_from(["question", "outcome"]))
        child = len(nodes)
        if kind == "question":
            nodes.append(
                {"id": ids[child], "type": kind, "text": draw(texts), "yes": None, "no": None}
            )
            open_branches += [(child, "yes"), (child, "no")]
        else:
            nodes.append({"id": ids[child], "type": kind, "text": draw(texts), "next": None})
            open_branches.append((child, "next"))
        nodes[parent][key] = ids[child]
    order = draw(st.permutations(range(size)))
    return {"title": draw(texts), "root": ids[0], "nodes": [nodes[index] for index in order]}


@settings(max_examples=100, deadline=None)
@given(valid_definitions())
def test_random_valid_trees_round_trip_unchanged(definition: dict[str, Any]) -> None:
    schema = PollDefinitionSchema()
    loaded = schema.load(copy.deepcopy(definition))
    assert json.dumps(loaded) == json.dumps(definition)
    assert json.dumps(schema.dump(loaded)) == json.dumps(definition)


def _unused_id(definition: dict[str, Any]) -> str:
    taken = {n["id"] for n in definition["nodes"]}
    return next(
        f"missing{number}" for number in range(MAX_NODES + 2) if f"missing{number}" not in taken
    )


def _questions(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in definition["nodes"] if n["type"] == "question"]


def _outcomes(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in definition["nodes"] if n["type"] == "outcome"]


CORRUPTIONS = [
    "dangling reference",
    "duplicate id",
    "cycle",
    "orphan",
    "blank text",
    "over-long text",
    "root to an outcome",
    "outcome leads to a question",
    "unknown key",
    "wrong type",
]


@settings(max_examples=100, deadline=None)
@given(valid_definitions(), st.sampled_from(CORRUPTIONS), st.data())
def test_any_single_corruption_is_rejected(
    definition: dict[str, Any], corruption: str, data: st.DataObject
) -> None:
    nodes = definition["nodes"]
    some_node = data.draw(st.sampled_from(nodes))
    some_question = data.draw(st.sampled_from(_questions(definition)))
    if corruption == "dangling reference":
        some_question[data.draw(st.sampled_from(["yes", "no"]))] = _unused_id(definition)
    elif corruption == "duplicate id":
        if len(nodes) == 1:
            nodes.append(copy.deepcopy(nodes[0]))
        else:
            other = data.draw(st.sampled_from([n for n in nodes if n is not some_node]))
            other["id"] = some_node["id"]
    elif corruption == "cycle":
        if some_node["type"] == "question":
            some_node["yes"] = definition["root"]  # every node is reachable from the root
        else:
            some_node["next"] = some_node["id"]
    elif corruption == "orphan":
        nodes.append({"id": _unused_id(definition), "type": "outcome", "text": "Orphan"})
    elif corruption == "blank text":
        some_node["text"] = data.draw(st.sampled_from(["", " ", "\n\t"]))
    elif corruption == "over-long text":
        some_node["text"] = "x" * (MAX_TEXT_LENGTH + 1)
    elif corruption == "root to an outcome":
        if not _outcomes(definition):
            nodes.append({"id": _unused_id(definition), "type": "outcome", "text": "End"})
        definition["root"] = data.draw(st.sampled_from(_outcomes(definition)))["id"]
    elif corruption == "outcome leads to a question":
        if _outcomes(definition):
            data.draw(st.sampled_from(_outcomes(definition)))["next"] = some_question["id"]
        else:
            some_question["next"] = some_question["id"]
    elif corruption == "unknown key":
        some_node["weight"] = 1
    else:
        some_node["text"] = data.draw(st.sampled_from([None, 7, ["text"], {"en": "text"}]))

    with pytest.raises(DefinitionError) as caught:
        validate_definition(definition)
    assert str(caught.value)
    assert "\n" not in str(caught.value)
