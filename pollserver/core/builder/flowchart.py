"""The flowchart reading rule: which lines form a Yes/No block, and the definition a block gives.

In the logical lines of an article (text, or HTML written out as lines) a flowchart appears as
short lines (see DESIGN.md, "The flowchart block in an article")::

    Yes
    No
    Russia allowed North Korean military in Ukraine?      <- questions, chained along Yes
    Was the operation a good result?
    Operation had a good result                           <- statements, paired: yes / no
    Operation failed
    North Korean military given due recognition           <- the next pair continues each chain
    North Korean military not given due recognition

Everything the rule decides lives here, so a change to it touches this module only: what a line
is (question, prose, page chrome), where a block starts and ends, why a block cannot become a
poll, how its questions and statements become nodes, and which line is the article's headline.
The words it reads in each language (the Yes/No pair, question marks, chrome) are a table of
their own: ``pollserver.core.builder.languages``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pollserver.core.builder.languages import (
    QUESTION_MARKS,
    SENTENCE_MARKS,
    box_text,
    is_chrome_line,
    is_language_chrome,
    pair_language,
)
from pollserver.core.definition import MAX_NODES, MAX_TEXT_LENGTH

# Kinds of line ----------------------------------------------------------------------------------

_CLOSING_MARKS = "\"'”’»)]*」』）"
# A headline never ends like a sentence, nor trails off.
_SENTENCE_ENDS = (*SENTENCE_MARKS, "…")

# Page chrome in every language is a column of languages.LANGUAGES; counters ("12 comments")
# are chrome in any language.
_COUNTER_CHROME = re.compile(r"^\d[\d,.]*k?\s+(comments?|shares?|replies|views)$")


def reads_as_prose(line: str) -> bool:
    """A sentence (ends in . ! : or …, in any script) or a line too long for a flowchart box."""
    return len(line) > MAX_TEXT_LENGTH or _final_mark(line) in _SENTENCE_ENDS


def ends_a_block(line: str) -> bool:
    """Prose ends a block, but an outcome may trail off ("…" or "..."): only a sentence's own
    end, or a line too long for a box, ends it."""
    mark = _final_mark(line)
    return len(line) > MAX_TEXT_LENGTH or (mark in SENTENCE_MARKS and not _trails_off(line))


def _trails_off(line: str) -> bool:
    return line.rstrip().rstrip(_CLOSING_MARKS).endswith(("…", "..."))


def is_question(line: str) -> bool:
    return _final_mark(line) in QUESTION_MARKS


def is_chrome(line: str) -> bool:
    """Navigation, sharing and ad labels: never a title."""
    normalized = " ".join(line.casefold().split())
    if not any(character.isalnum() for character in normalized):
        return True  # separators, bullets, arrows
    bare = normalized.strip(" .:|•·-–—>»«›‹…")
    return is_language_chrome(normalized, bare) or _COUNTER_CHROME.match(bare) is not None


def _final_mark(line: str) -> str:
    """The last punctuation that decides what a line is, looking past closing quotes/brackets."""
    return line.rstrip().rstrip(_CLOSING_MARKS)[-1:]


def _starts_block(lines: Sequence[str], index: int) -> bool:
    return block_language(lines, index) is not None


def block_language(lines: Sequence[str], index: int) -> str | None:
    """The language of the Yes/No pair starting at ``index``, or None where no pair starts."""
    if index + 1 >= len(lines) or not lines[index] or not lines[index + 1]:
        return None
    language = pair_language(lines[index], lines[index + 1])
    return language.code if language else None


def _is_not_the_flowcharts(lines: Sequence[str], index: int, statements: Sequence[str]) -> bool:
    """After a whole pair of statements, the last short line before the block would end is the
    page's ("Advertisement") or the article's ("What happens next is anyone's guess..."), not
    an outcome without its pair."""
    line = lines[index]
    return (
        bool(statements)
        and len(statements) % 2 == 0
        and not _continues(lines, index + 1)
        and (is_chrome_line(line) or (_trails_off(line) and not is_question(line)))
    )


def _continues(lines: Sequence[str], index: int) -> bool:
    """Whether the line at ``index`` could still be part of a block being read."""
    return (
        index < len(lines)
        and bool(lines[index])
        and not ends_a_block(lines[index])
        and not _starts_block(lines, index)
    )


def first_headline(lines: Sequence[str]) -> str | None:
    """The first line that could be a headline: not chrome, not prose, not part of a flowchart."""
    in_blocks = {
        index for block in find_blocks(lines, lambda i: i + 1) for index in block.line_indexes
    }
    for index, line in enumerate(lines):
        if line and index not in in_blocks and not is_chrome(line) and not reads_as_prose(line):
            return line
    return None


# Flowchart blocks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A Yes/No block as read from the lines, well-formed or not."""

    start: int  # index of the "Yes" line
    end: int  # index of the line that ended the block (len(lines) at the end of the text)
    line: int  # source line of "Yes", for messages
    questions: tuple[str, ...]
    statements: tuple[str, ...]
    problem: str | None  # why it cannot become a poll
    language: str = "en"  # of its Yes/No pair: the poll's language

    @property
    def is_empty(self) -> bool:
        """Yes/No with nothing after them: left-over buttons, not a flowchart."""
        return not self.questions and not self.statements and self.problem is None

    @property
    def line_indexes(self) -> range:
        return range(self.start, self.end)


def find_blocks(lines: Sequence[str], line_number: Callable[[int], int]) -> list[Block]:
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if _starts_block(lines, index):
            block = _read_block(lines, index, line_number)
            blocks.append(block)
            index = block.end
        else:
            index += 1
    return blocks


def _read_block(lines: Sequence[str], start: int, line_number: Callable[[int], int]) -> Block:
    questions: list[str] = []
    statements: list[str] = []
    end = start + 2
    while end < len(lines):
        line = lines[end]
        if not line or _starts_block(lines, end) or ends_a_block(line):
            break
        if _is_not_the_flowcharts(lines, end, statements):
            break
        if is_question(line):
            if statements:
                break  # a question after the outcomes belongs to what follows the block
            questions.append(line)
        else:
            statements.append(line)
        end += 1
    problem = _block_problem(lines, end, questions, statements, line_number)
    return Block(
        start=start,
        end=end,
        line=line_number(start),
        questions=tuple(questions),
        statements=tuple(statements),
        problem=problem,
        language=block_language(lines, start) or "en",
    )


def _block_problem(
    lines: Sequence[str],
    end: int,
    questions: Sequence[str],
    statements: Sequence[str],
    line_number: Callable[[int], int],
) -> str | None:
    incomplete = not questions or not statements or len(statements) % 2 == 1
    if _long_line_belongs_to_block(lines, end, incomplete and bool(questions or statements)):
        return f"line {line_number(end)} is longer than {MAX_TEXT_LENGTH} characters"
    if not questions and not statements:
        return None  # no flowchart here; the caller warns
    if not questions:
        return "no question (a line ending in '?') after Yes/No"
    if not statements:
        return f"{_count(len(questions), 'question')} but no outcome statements after them"
    if len(statements) % 2 == 1:
        return f"{_count(len(statements), 'statement')} cannot be paired into yes/no outcomes"
    node_count = len(questions) + len(statements)
    if node_count > MAX_NODES:
        return f"{node_count} nodes, more than the {MAX_NODES} a poll may have"
    return None


def _long_line_belongs_to_block(lines: Sequence[str], end: int, incomplete: bool) -> bool:
    """Whether the over-long line that ended a block was meant as one of its questions/outcomes.

    A long line ends a block (it reads as prose), but when the block is left incomplete, the line
    is an over-long question, or flowchart lines follow it, it was clearly a box of the flowchart.
    """
    if end >= len(lines) or len(lines[end]) <= MAX_TEXT_LENGTH:
        return False
    if incomplete or is_question(lines[end]):
        return True
    following = lines[end + 1] if end + 1 < len(lines) else ""
    return (
        _final_mark(lines[end]) not in _SENTENCE_ENDS
        and bool(following)
        and not reads_as_prose(following)
        and not _starts_block(lines, end + 1)
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def definition_from_block(block: Block, title: str) -> dict[str, Any]:
    """Questions chain along Yes; statements pair up into a yes chain and a no chain."""
    question_count = len(block.questions)
    outcome_count = len(block.statements)
    nodes: list[dict[str, Any]] = []
    for number, text in enumerate(block.questions, start=1):
        last = number == question_count
        nodes.append(
            {
                "id": f"q{number}",
                "type": "question",
                "text": box_text(text),
                "yes": "o1" if last else f"q{number + 1}",
                "no": "o2" if last else None,
            }
        )
    for number, text in enumerate(block.statements, start=1):
        follower = number + 2  # o1 → o3 → o5 … (yes chain), o2 → o4 → o6 … (no chain)
        nodes.append(
            {
                "id": f"o{number}",
                "type": "outcome",
                "text": box_text(text),
                "next": f"o{follower}" if follower <= outcome_count else None,
            }
        )
    return {"title": title, "root": "q1", "nodes": nodes}
