"""Building polls from a read article: one validated definition per flowchart block.

Ties the parts together: the flowchart rule finds the blocks, each block becomes a definition
titled after the article (" (2)", " (3)" … for later blocks), and the one schema validates it;
a JSON file's definitions are validated as they are. Also the entry ``pollserver build`` prints
per article, where bad input becomes an ``error`` instead of a raise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pollserver.core.builder.article import (
    Article,
    ArticleError,
    BuildResult,
    NoFlowchartError,
    shorten,
)
from pollserver.core.builder.definition_files import build_from_definition_file
from pollserver.core.builder.flowchart import definition_from_block, find_blocks
from pollserver.core.builder.reading import read_article
from pollserver.core.definition import (
    MAX_TEXT_LENGTH,
    DefinitionError,
    definition_warnings,
    validate_definition,
)


def build_entry(source: str, path_or_error: Path | str | ArticleError) -> dict[str, Any]:
    """One entry of ``pollserver build`` output; bad input becomes an ``error``, never a raise."""
    if isinstance(path_or_error, ArticleError):
        return {"source": source, "polls": [], "error": str(path_or_error)}
    try:
        result = build_polls_from_article(read_article(path_or_error))
    except ArticleError as error:
        return {"source": source, "polls": [], "error": str(error)}
    return {"source": source, "polls": result.polls, "warnings": result.warnings}


def build_polls_from_article(article: Article) -> BuildResult:
    """One validated definition per flowchart block (or per definition in a JSON file)."""
    if article.format == "definition":
        return build_from_definition_file(article)

    blocks = find_blocks(article.lines, article.line_number)
    problems = [f"block at line {block.line}: {block.problem}" for block in blocks if block.problem]
    if problems:
        raise ArticleError("; ".join(problems))
    flowcharts = [block for block in blocks if not block.is_empty]
    if not flowcharts:
        raise NoFlowchartError()

    polls: list[dict[str, Any]] = []
    warnings = [
        f"line {block.line}: Yes/No without questions after them, ignored"
        for block in blocks
        if block.is_empty
    ]
    for number, block in enumerate(flowcharts, start=1):
        title = _numbered_title(article.title or block.questions[0], number)
        try:
            poll = validate_definition(definition_from_block(block, title))
        except DefinitionError as error:
            raise ArticleError(f"block at line {block.line}: {error}") from None
        polls.append(poll)
        prefix = f"poll {number}: " if len(flowcharts) > 1 else ""
        warnings.extend(prefix + warning for warning in definition_warnings(poll))
    return BuildResult(title=article.title, polls=polls, warnings=warnings)


def flowchart_line_spans(article: Article) -> list[tuple[int, int]]:
    """Where each poll's flowchart sits: ``(start, end)`` indexes into ``article.lines``.

    One span per block that ``build_polls_from_article`` turns into a poll, in the same order
    (span ``i`` belongs to block index ``i``); ``end`` is exclusive. Pages that show the article
    put the poll there instead of the flowchart's lines.
    """
    if article.format == "definition":
        return []
    blocks = find_blocks(article.lines, article.line_number)
    return [(block.start, block.end) for block in blocks if not block.is_empty]


def _numbered_title(title: str, number: int) -> str:
    """The article title, " (2)", " (3)" … for later blocks, cut to fit the text limit."""
    suffix = f" ({number})" if number > 1 else ""
    return shorten(title, MAX_TEXT_LENGTH - len(suffix)) + suffix
