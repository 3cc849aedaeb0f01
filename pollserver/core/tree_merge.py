"""Bringing an article's changes into a poll an editor has changed: a three-way merge of poll
definitions, node by node (the builder names nodes the same way each time: q1, q2…, o1, o2…).

``base`` is what the builder made from the article before, ``ours`` the editor's current tree,
``theirs`` what the builder makes of the changed article. Whatever only one side changed is
taken from that side; where both changed the same thing differently, nothing is guessed: the
merge reports the conflicts and the caller replaces nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FIELDS = ("type", "text", "yes", "no", "next")
MISSING = object()


@dataclass
class Merge:
    definition: dict[str, Any] | None  # None when there are conflicts
    conflicts: list[str] = field(default_factory=list)
    article_changes: list[str] = field(default_factory=list)  # what the article changed


def pick(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """(the merged value, whether it is a conflict)."""
    if ours == theirs or theirs == base:
        return ours, False
    if ours == base:
        return theirs, False
    return ours, True


def by_id(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: dict(node) for node in definition["nodes"]}


def describe_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changed from one definition to another, in words an editor reads."""
    said = []
    if before["title"] != after["title"]:
        said.append(f"title: “{before['title']}” → “{after['title']}”")
    old, new = by_id(before), by_id(after)
    for key, node in new.items():
        if key not in old:
            said.append(f"added {key}: “{node['text']}”")
        elif node.get("text") != old[key].get("text"):
            said.append(f"{key}: “{old[key]['text']}” → “{node['text']}”")
        elif node != old[key]:
            said.append(f"{key}: its branches changed")
    said += [f"removed {key}: “{node['text']}”" for key, node in old.items() if key not in new]
    return said


def merge_definitions(
    base: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any]
) -> Merge:
    conflicts: list[str] = []
    title, clash = pick(base["title"], ours["title"], theirs["title"])
    if clash:
        conflicts.append("the title was changed here and in the article")
    root, clash = pick(base["root"], ours["root"], theirs["root"])
    if clash:
        conflicts.append("the first question was changed here and in the article")
    old, mine, new = by_id(base), by_id(ours), by_id(theirs)
    merged: dict[str, dict[str, Any]] = {}
    order = list(mine) + [key for key in new if key not in mine]
    for key in order:
        b, o, t = old.get(key, MISSING), mine.get(key, MISSING), new.get(key, MISSING)
        node, clash = pick(b, o, t)
        if not clash:
            if node is not MISSING:
                merged[key] = node
            continue
        if MISSING in (b, o, t):
            side = "removed here" if o is MISSING else "removed from the article"
            if b is MISSING:
                side = "added here and in the article differently"
            conflicts.append(f"{key} was {side}, and changed on the other side")
            continue
        fields = {}
        for name in FIELDS:
            value, field_clash = pick(b.get(name), o.get(name), t.get(name))
            if field_clash:
                conflicts.append(f"{key} {name} was changed here and in the article")
            if value is not None or name in o or name in t:
                fields[name] = value
        merged[key] = {"id": key, **fields}
    if conflicts:
        return Merge(None, conflicts, describe_changes(base, theirs))
    definition = {"title": title, "root": root, "nodes": list(merged.values())}
    return Merge(definition, [], describe_changes(base, theirs))
