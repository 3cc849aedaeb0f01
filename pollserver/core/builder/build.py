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
from pollserver.core.builder.flowchart import Block, definition_from_block, find_blocks
from pollserver.core.builder.languages import box_text
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
    # The shape DESIGN.md promises; each poll's language reaches it on import, not here.
    return {"source": source, "polls": result.polls, "warnings": result.warnings}


def build_polls_from_article(article: Article) -> BuildResult:
    """One validated definition per flowchart block (or per definition in a JSON file).

    A block that cannot become a poll is skipped with a warning when others can: the good polls
    of an article are not lost to one bad block. Only an article with no good block is an error.
    Every poll takes the article's headline as its title (readers see it above the poll);
    without one, its first question.
    """
    if article.format == "definition":
        return build_from_definition_file(article)
    usable, problems, warnings = _usable_blocks(article)
    if not usable:
        if problems:
            raise ArticleError("; ".join(problems))
        raise NoFlowchartError()
    warnings += [
        f"{problem}: skipped, the article's other polls were built" for problem in problems
    ]
    polls = [poll for _index, _block, poll in usable]
    for number, poll in enumerate(polls, start=1):
        prefix = f"poll {number}: " if len(polls) > 1 else ""
        warnings.extend(prefix + warning for warning in definition_warnings(poll))
    return BuildResult(
        title=article.title,
        polls=polls,
        warnings=warnings,
        languages=[block.language for _index, block, _poll in usable],
        block_indexes=[index for index, _block, _poll in usable],
    )


def _usable_blocks(
    article: Article,
) -> tuple[list[tuple[int, Block, dict[str, Any]]], list[str], list[str]]:
    """Each block that makes a poll, with its block index and validated definition; why each
    other block does not; and the warnings about blocks that are only left-over Yes/No buttons.

    A block's index is its place among the article's flowcharts, bad ones included: a block
    that is skipped today keeps its place, so the polls after it stay the same polls on every
    import, and it gets its own once it is fixed."""
    usable: list[tuple[int, Block, dict[str, Any]]] = []
    problems: list[str] = []
    blocks = find_blocks(article.lines, article.line_number)
    warnings = [
        f"line {block.line}: Yes/No without questions after them, ignored"
        for block in blocks
        if block.is_empty
    ]
    for index, block in enumerate(block for block in blocks if not block.is_empty):
        if block.problem:
            problems.append(f"block at line {block.line}: {block.problem}")
            continue
        title = shorten(article.title or box_text(block.questions[0]), MAX_TEXT_LENGTH)
        try:
            usable.append((index, block, validate_definition(definition_from_block(block, title))))
        except DefinitionError as error:
            problems.append(f"block at line {block.line}: {error}")
    return usable, problems, warnings


def flowchart_line_spans(article: Article) -> dict[int, tuple[int, int]]:
    """Where each poll's flowchart sits: ``{block index: (start, end)}``, indexes into
    ``article.lines`` (``end`` exclusive), for every block ``build_polls_from_article`` turns
    into a poll. Pages that show the article put the poll there instead of its lines.
    """
    if article.format == "definition":
        return {}
    usable, _problems, _warnings = _usable_blocks(article)
    return {index: (block.start, block.end) for index, block, _poll in usable}
