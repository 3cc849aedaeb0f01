"""Changes an editor makes to a poll's tree, as plain operations on a definition: add a node on a
branch that ends, remove nodes, find the free ids. Each returns a new definition; checking the
result is the definition's own rules' job (``core.definition.validate_definition``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pollserver.core.definition import NodeType

BRANCHES = {NodeType.QUESTION: ("yes", "no"), NodeType.OUTCOME: ("next",)}
KEY_LETTER = {NodeType.QUESTION: "q", NodeType.OUTCOME: "o"}


class TreeEditError(ValueError):
    """An edit that cannot be made to this tree (the message says why)."""


def branches_of(node: Mapping[str, Any]) -> tuple[str, ...]:
    return BRANCHES[NodeType(node["type"])]


def ending_branches(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(node id, branch) for every branch where a reader's path ends: where a node can be added."""
    return [
        (node["id"], branch)
        for node in definition["nodes"]
        for branch in branches_of(node)
        if node.get(branch) is None
    ]


def free_key(definition: Mapping[str, Any], node_type: NodeType) -> str:
    """The next unused id of the builder's kind: q3 after q1, q2; o5 after o1…o4."""
    taken = {node["id"] for node in definition["nodes"]}
    letter = KEY_LETTER[node_type]
    number = 1
    while f"{letter}{number}" in taken:
        number += 1
    return f"{letter}{number}"


def add_node(
    definition: Mapping[str, Any],
    at: tuple[str, str],
    node_type: NodeType,
    text: str,
) -> tuple[dict[str, Any], str]:
    """A new question or outcome on a branch that ends; the new definition and the node's id."""
    node_id, branch = at
    if at not in ending_branches(definition):
        raise TreeEditError(
            f"{node_id} {branch.capitalize()} does not end: choose a branch that does"
        )
    parent_type = next(
        NodeType(node["type"]) for node in definition["nodes"] if node["id"] == node_id
    )
    if parent_type is NodeType.OUTCOME and node_type is NodeType.QUESTION:
        raise TreeEditError("an outcome can only be followed by another outcome")
    changed = copy.deepcopy(dict(definition))
    key = free_key(changed, node_type)
    for node in changed["nodes"]:
        if node["id"] == node_id:
            node[branch] = key
    new_node: dict[str, Any] = {"id": key, "type": str(node_type), "text": text}
    new_node.update(dict.fromkeys(BRANCHES[node_type]))
    changed["nodes"].append(new_node)
    return changed, key


def remove_nodes(definition: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The tree without these nodes; branches that led to them end instead."""
    gone = set(keys)
    if definition["root"] in gone:
        raise TreeEditError(f"{definition['root']} is the first question: it cannot be removed")
    changed = copy.deepcopy(dict(definition))
    changed["nodes"] = [node for node in changed["nodes"] if node["id"] not in gone]
    for node in changed["nodes"]:
        for branch in branches_of(node):
            if node.get(branch) in gone:
                node[branch] = None
    return changed
