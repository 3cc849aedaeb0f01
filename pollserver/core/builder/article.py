"""What an article is once read, what building it gives, and why one cannot become polls.

Every problem with an article is an ArticleError with a one-line message, so a CLI or an API can
show it as it is. Also the two text rules every other module of the builder shares: what a
logical line is, and how a text is cut to fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class ArticleError(Exception):
    """Why an article cannot become polls; the message is always a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


class NoFlowchartError(ArticleError):
    """The article is readable but holds no yes/no flowchart."""

    def __init__(self, message: str = "no yes/no flowchart found") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Article:
    """An article read into logical lines.

    ``lines`` are stripped, with runs of white space collapsed; ``""`` is a blank line, and in
    HTML also marks the end of a container (figure, list, div, table …), which ends a block.
    ``line_numbers[i]`` is the line of the source file where ``lines[i]`` starts, for messages.
    """

    source: str
    title: str | None
    lines: tuple[str, ...]
    body: str
    content_hash: str
    format: str
    line_numbers: tuple[int, ...] = ()

    def line_number(self, index: int) -> int:
        """The 1-based source line of ``lines[index]``."""
        if index < len(self.line_numbers):
            return self.line_numbers[index]
        return index + 1


@dataclass
class BuildResult:
    title: str | None
    polls: list[dict[str, Any]]
    warnings: list[str]
    # The language of each poll (its Yes/No pair), where the article says; empty for definitions.
    languages: list[str] = field(default_factory=list)
    # Each poll's block index: its place among the article's flowcharts, skipped ones included.
    block_indexes: list[int] = field(default_factory=list)


# Zero-width characters, soft hyphens, and the direction marks right-to-left text carries
# (U+200E/F, U+061C): none is part of a line's words. Embeddings, overrides and isolates
# (U+202A-E, U+2066-9) are kept, for the definition's rules to refuse: they can make a text
# read other than it is.
_INVISIBLE_CHARACTERS = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad\u061c]")


def clean_line(line: str) -> str:
    """A logical line: no invisible characters, runs of white space as one space, stripped."""
    return " ".join(_INVISIBLE_CHARACTERS.sub("", line).split())


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
