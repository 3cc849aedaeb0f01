"""The canonical poll definition and the one marshmallow schema that validates it.

A definition is a small decision tree: ``question`` nodes branch on ``yes``/``no``, ``outcome``
nodes may chain to a further outcome through ``next``. The builder emits definitions, editors may
write them by hand and the API accepts and returns them, so every problem is reported as a sentence
an editor can act on ("node q3: 'yes' refers to unknown node 'q9'") rather than a field path.

This module knows nothing of Flask: plain Python and marshmallow.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from pollserver.core.identifiers import NODE_ID, anchored

MAX_NODES = 50
MAX_TEXT_LENGTH = 280
NODE_ID_PATTERN = anchored(NODE_ID)
# The same rule, anchored so that a trailing newline cannot slip past "$".
_NODE_ID = re.compile(rf"\A{NODE_ID}\Z")


class NodeType(enum.StrEnum):
    QUESTION = "question"
    OUTCOME = "outcome"


QUESTION = str(NodeType.QUESTION)
OUTCOME = str(NodeType.OUTCOME)
QUESTION_BRANCHES = ("yes", "no")

# marshmallow's message for a key the schema does not know; rewritten to name the key.
_UNKNOWN_KEY = "unknown key"
_ID_RULE = "1–32 letters, digits, '_' or '-'"

__all__ = [
    "MAX_NODES",
    "MAX_TEXT_LENGTH",
    "DefinitionError",
    "NodeSchema",
    "PollDefinitionSchema",
    "definition_warnings",
    "leaf_messages",
    "node_warnings",
    "validate_definition",
    "warnings_by_node",
]


class DefinitionError(Exception):
    """A poll definition is invalid.

    ``messages`` is marshmallow's error dict (every leaf a full sentence); ``str()`` joins all of
    them into one line, fit for a CLI or an API error message.
    """

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        one_line = "; ".join(" ".join(message.split()) for message in leaf_messages(messages))
        super().__init__(one_line or "invalid poll definition")


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Unicode's bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): one
# in a text shows the characters after it reordered wherever it appears (the widget, pages, the
# CLI, exports), so "No" can be made to read "Yes". The marks (LRM, RLM, ALM) stay: texts in
# right-to-left languages need them, and they reorder nothing.
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


class _StrippedString(fields.String):
    """A string kept without its surrounding white space, so limits apply to what readers see."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class _TextRules(validate.Validator):
    """Non-empty and at most MAX_TEXT_LENGTH characters, with messages that name the field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, value: str) -> str:
        if not value:
            raise ValidationError(f"{self.name} is empty")
        if len(value) > MAX_TEXT_LENGTH:
            raise ValidationError(f"{self.name} is longer than {MAX_TEXT_LENGTH} characters")
        if _CONTROL_CHARACTER.search(value):
            # Texts are one line for readers; NUL is refused by PostgreSQL and some controls
            # are not even allowed in the XML of the results picture.
            raise ValidationError(f"{self.name} contains a control character")
        if bidi := _BIDI_CONTROL.search(value):
            raise ValidationError(
                f"{self.name} contains a bidirectional control character "
                f"(U+{ord(bidi[0]):04X}), which would show its text reordered"
            )
        return value


def _text(name: str) -> _StrippedString:
    return _StrippedString(
        required=True,
        validate=_TextRules(name),
        error_messages={
            "required": f"{name} is missing",
            "null": f"{name} must not be null",
            "invalid": f"{name} must be a string",
        },
    )


def _node_id(name: str, *, allow_none: bool = False) -> fields.String:
    """A field holding a node id; references (``allow_none``) may be null to end the path."""
    expected = "a node id or null" if allow_none else "a node id"
    return fields.String(
        required=not allow_none,
        allow_none=allow_none,
        validate=validate.Regexp(_NODE_ID, error=f"'{name}' must be {expected} ({_ID_RULE})"),
        error_messages={
            "required": f"'{name}' is missing",
            "null": f"'{name}' must not be null",
            "invalid": f"'{name}' must be {expected} ({_ID_RULE})",
        },
    )


def _check_node_count(nodes: Sequence[object]) -> None:
    if not nodes:
        raise ValidationError("'nodes' is empty: a poll needs at least one question")
    if len(nodes) > MAX_NODES:
        raise ValidationError(f"a poll has at most {MAX_NODES} nodes, this one has {len(nodes)}")


class NodeSchema(Schema):
    """One node: a question (``yes``/``no``) or an outcome (``next``).

    A missing ``yes``, ``no`` or ``next`` means null (the path ends); the loaded node always
    carries them explicitly, in canonical key order.
    """

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {
        "type": "a node must be a JSON object",
        "unknown": _UNKNOWN_KEY,
    }

    id = _node_id("id")
    type = fields.String(
        required=True,
        validate=validate.OneOf(
            (QUESTION, OUTCOME), error=f"'type' must be '{QUESTION}' or '{OUTCOME}'"
        ),
        error_messages={
            "required": "'type' is missing",
            "null": "'type' must not be null",
            "invalid": f"'type' must be '{QUESTION}' or '{OUTCOME}'",
        },
    )
    text = _text("text")
    yes = _node_id("yes", allow_none=True)
    no = _node_id("no", allow_none=True)
    next = _node_id("next", allow_none=True)

    @validates_schema
    def _check_keys_fit_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["type"] == QUESTION:
            misplaced = {"next": "a question has no 'next' (it branches on 'yes' and 'no')"}
        else:
            misplaced = {key: f"an outcome has no '{key}' (use 'next')" for key in ("yes", "no")}
        errors = {key: [message] for key, message in misplaced.items() if key in data}
        if errors:
            raise ValidationError(errors)

    @post_load
    def _to_canonical(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        node: dict[str, Any] = {"id": data["id"], "type": data["type"], "text": data["text"]}
        if data["type"] == QUESTION:
            node["yes"] = data.get("yes")
            node["no"] = data.get("no")
        else:
            node["next"] = data.get("next")
        return node


class PollDefinitionSchema(Schema):
    """A whole poll: its title, the root question and the list of nodes.

    ``load()`` returns the canonical dict (key order title, root, nodes; texts stripped) and
    ``dump()`` of that dict returns it unchanged. Errors are sentences keyed by node id under
    ``"nodes"`` (``"#3"`` for a node without a usable id), or by a top-level key.
    """

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {
        "type": "a poll definition must be a JSON object",
        "unknown": _UNKNOWN_KEY,
    }

    title = _text("title")
    root = _node_id("root")
    nodes = fields.Nested(
        NodeSchema,
        many=True,
        required=True,
        validate=_check_node_count,
        error_messages={
            "required": "'nodes' is missing",
            "null": "'nodes' must not be null",
            "type": "'nodes' must be a list of nodes",
        },
    )

    @validates_schema
    def _check_structure(self, data: dict[str, Any], **kwargs: Any) -> None:
        problems = _structure_problems(data["root"], data["nodes"])
        if problems:
            raise ValidationError(problems)

    @post_load
    def _to_canonical(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"title": data["title"], "root": data["root"], "nodes": data["nodes"]}

    def handle_error(self, error: ValidationError, data: Any, *, many: bool, **kwargs: Any) -> None:
        # marshmallow keys a node's field errors by list index; editors think in node ids.
        raise ValidationError(
            _readable_messages(error.messages, data),
            data=error.data,
            valid_data=error.valid_data,
        )


# Loading keeps no state on the schema, so one instance serves every call (and every thread).
_SCHEMA = PollDefinitionSchema()


def validate_definition(data: object) -> dict[str, Any]:
    """Load ``data`` through the schema and return the canonical definition.

    Raises DefinitionError, whose ``str()`` is one line naming every problem.
    """
    try:
        return _SCHEMA.load(data)  # type: ignore[arg-type]
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise DefinitionError(messages) from None


def definition_warnings(definition: Mapping[str, Any]) -> list[str]:
    """Things in a valid definition an editor may want to look at before opening the poll."""
    return [f"question {node_id}: {warning}" for node_id, warning in node_warnings(definition)]


def warnings_by_node(definition: Mapping[str, Any]) -> dict[str, list[str]]:
    """:func:`node_warnings` grouped by node id, for pages that show them beside each node."""
    grouped: dict[str, list[str]] = {}
    for node_id, warning in node_warnings(definition):
        grouped.setdefault(node_id, []).append(warning)
    return grouped


def node_warnings(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """:func:`definition_warnings` as (node id, what to look at), to show beside each node."""
    warnings: list[tuple[str, str]] = []
    for node in definition.get("nodes", ()):
        if node.get("type") != QUESTION:
            continue
        for branch in QUESTION_BRANCHES:
            if node.get(branch) is None:
                warnings.append((node["id"], f"the {branch.capitalize()} branch ends the poll"))
        if node.get("yes") is not None and node.get("yes") == node.get("no"):
            warnings.append((node["id"], f"Yes and No both lead to node '{node['yes']}'"))
    return warnings


# Structural rules -------------------------------------------------------------------------------


def _references(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, target id) for every non-null reference the node makes."""
    keys = QUESTION_BRANCHES if node["type"] == QUESTION else ("next",)
    for key in keys:
        if node.get(key) is not None:
            yield key, node[key]


def _structure_problems(root: str, nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Everything wrong with how the nodes fit together, as marshmallow-style messages."""
    node_problems: dict[str, list[str]] = {}

    def report(node_id: str, message: str) -> None:
        node_problems.setdefault(node_id, []).append(message)

    by_id: dict[str, Mapping[str, Any]] = {}
    for node in nodes:
        if node["id"] not in by_id:
            by_id[node["id"]] = node
        elif f"duplicate node id '{node['id']}'" not in node_problems.get(node["id"], ()):
            report(node["id"], f"duplicate node id '{node['id']}'")

    root_problems: list[str] = []
    if root not in by_id:
        root_problems.append(f"root refers to unknown node '{root}'")
    elif by_id[root]["type"] != QUESTION:
        root_problems.append(f"root '{root}' is not a question")

    for node_id, node in by_id.items():
        for key, target in _references(node):
            if target not in by_id:
                report(node_id, f"node {node_id}: '{key}' refers to unknown node '{target}'")
            elif key == "next" and by_id[target]["type"] != OUTCOME:
                report(
                    node_id,
                    f"node {node_id}: 'next' must lead to an outcome, but '{target}' is a question",
                )

    for cycle in _cycles(root, by_id):
        report(cycle[0], f"node {cycle[0]}: cycle {' → '.join([*cycle, cycle[0]])}")

    # Reachability only means something from a usable root; otherwise every node would be listed.
    if not root_problems:
        reachable = _reachable_from(root, by_id)
        for node_id in by_id:
            if node_id not in reachable:
                report(node_id, f"node {node_id} is not reachable from the root")

    problems: dict[str, Any] = {}
    if root_problems:
        problems["root"] = root_problems
    if node_problems:
        problems["nodes"] = node_problems
    return problems


def _successors(node_id: str, by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [target for _, target in _references(by_id[node_id]) if target in by_id]


def _reachable_from(root: str, by_id: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen = {root}
    waiting = [root]
    while waiting:
        for target in _successors(waiting.pop(), by_id):
            if target not in seen:
                seen.add(target)
                waiting.append(target)
    return seen


def _cycles(root: str, by_id: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Each cycle once, as the path of ids around it.

    Depth-first without recursion, so no definition can reach Python's recursion limit.
    """
    finished: set[str] = set()
    cycles: list[list[str]] = []
    starts = [root, *by_id] if root in by_id else list(by_id)
    for start in starts:
        if start in finished:
            continue
        path = [start]
        on_path = {start}
        pending = [iter(_successors(start, by_id))]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                finished.add(path[-1])
                on_path.discard(path.pop())
            elif target in on_path:
                cycles.append(path[path.index(target) :])
            elif target not in finished:
                path.append(target)
                on_path.add(target)
                pending.append(iter(_successors(target, by_id)))
    return cycles


# Messages ---------------------------------------------------------------------------------------


def leaf_messages(messages: object) -> Iterator[str]:
    """Every message in marshmallow's nested error dict, in order."""
    if isinstance(messages, Mapping):
        for value in messages.values():
            yield from leaf_messages(value)
    elif isinstance(messages, list | tuple):
        for value in messages:
            yield from leaf_messages(value)
    else:
        yield str(messages)


def _readable_messages(messages: Any, data: Any) -> dict[str, Any]:
    """marshmallow's errors with every leaf turned into a sentence that stands on its own."""
    if not isinstance(messages, Mapping):
        return {"_schema": list(leaf_messages(messages))}
    raw_nodes = data.get("nodes") if isinstance(data, Mapping) else None
    readable: dict[str, Any] = {}
    for key, value in messages.items():
        if key == "nodes" and isinstance(value, Mapping):
            readable["nodes"] = _readable_node_messages(value, raw_nodes)
        else:
            readable[str(key)] = [
                _name_unknown_key(message, key) for message in leaf_messages(value)
            ]
    return readable


def _readable_node_messages(messages: Mapping[Any, Any], raw_nodes: object) -> dict[str, Any]:
    readable: dict[str, list[str]] = {}
    for key, value in messages.items():
        if not isinstance(key, int):  # already a sentence from the structural checks
            readable.setdefault(str(key), []).extend(leaf_messages(value))
            continue
        label = _node_label(raw_nodes, key)
        field_messages = value.items() if isinstance(value, Mapping) else [("_schema", value)]
        for field, field_value in field_messages:
            for message in leaf_messages(field_value):
                readable.setdefault(label, []).append(
                    f"node {label}: {_name_unknown_key(message, field)}"
                )
    return readable


def _name_unknown_key(message: str, key: object) -> str:
    return f"unknown key {key!r}" if message == _UNKNOWN_KEY else message


def _node_label(raw_nodes: object, index: int) -> str:
    """The node's id when it has a usable one, else its 1-based position ("#3")."""
    if isinstance(raw_nodes, list | tuple) and 0 <= index < len(raw_nodes):
        node = raw_nodes[index]
        node_id = node.get("id") if isinstance(node, Mapping) else None
        if isinstance(node_id, str) and _NODE_ID.match(node_id):
            return node_id
    return f"#{index + 1}"
