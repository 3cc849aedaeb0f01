"""A poll's tree in memory, and a reader's walk through it.

Plain Python: used by answering (what comes next), by the tallies (what a walk counts for) and by
the results (which path a tally names).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

YES = "yes"
NO = "no"


class AnswerValue(enum.StrEnum):
    YES = YES
    NO = NO


@dataclass(frozen=True)
class TreeNode:
    key: str
    type: str  # "question" | "outcome"
    text: str
    yes: str | None = None
    no: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class PollTree:
    root: str
    nodes: Mapping[str, TreeNode]
    order: tuple[str, ...]  # node keys in definition order

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> PollTree:
        nodes = {
            spec["id"]: TreeNode(
                key=spec["id"],
                type=spec["type"],
                text=spec["text"],
                yes=spec.get("yes"),
                no=spec.get("no"),
                next=spec.get("next"),
            )
            for spec in definition["nodes"]
        }
        return cls(root=definition["root"], nodes=nodes, order=tuple(nodes))

    def is_question(self, key: str) -> bool:
        node = self.nodes.get(key)
        return node is not None and node.type == "question"

    def questions(self) -> list[TreeNode]:
        return [self.nodes[key] for key in self.order if self.nodes[key].type == "question"]

    def outcomes(self) -> list[TreeNode]:
        return [self.nodes[key] for key in self.order if self.nodes[key].type == "outcome"]

    def outcome_chain(self, start: str | None) -> list[str]:
        chain = []
        while start is not None:
            chain.append(start)
            start = self.nodes[start].next
        return chain

    def walk(self, answers: Mapping[str, str]) -> Walk:
        """Follow a reader's answers from the root as far as they go."""
        path: list[tuple[str, str]] = []
        key: str | None = self.root
        while key is not None and self.nodes[key].type == "question":
            answer = answers.get(key)
            if answer is None:
                return Walk(path=path, current=key)
            path.append((key, answer))
            node = self.nodes[key]
            key = node.yes if answer == YES else node.no
        return Walk(path=path, current=None, finished=True, outcomes=self.outcome_chain(key))

    def walk_path_code(self, code: str) -> Walk:
        """The finished walk a tally's path code ("yn…": one letter per answer) stands for."""
        return self.walk_answers([YES if letter == "y" else NO for letter in code])

    def walk_answers(self, sequence: list[str]) -> Walk:
        answers: dict[str, str] = {}
        key: str | None = self.root
        for answer in sequence:
            if key is None or not self.is_question(key):
                break
            answers[key] = answer
            node = self.nodes[key]
            key = node.yes if answer == YES else node.no
        return self.walk(answers)


@dataclass
class Walk:
    path: list[tuple[str, str]]  # (question key, "yes"/"no") in the order answered
    current: str | None  # the question to answer next; None once the path has ended
    finished: bool = False
    outcomes: list[str] = field(default_factory=list)

    @property
    def path_code(self) -> str:
        return "".join("y" if answer == YES else "n" for _, answer in self.path)

    def keys_below(self, key: str) -> list[str]:
        """Questions answered after ``key`` on this path (they depend on its answer)."""
        keys = [question for question, _ in self.path]
        return keys[keys.index(key) + 1 :] if key in keys else []
