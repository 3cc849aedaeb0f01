"""Read news articles and build poll definitions from their yes/no flowchart blocks.

An article is plain text, HTML, or a JSON file holding hand-written definitions. In text and HTML
the flowchart appears as short lines (see DESIGN.md, "The flowchart block in an article")::

    Yes
    No
    Russia allowed North Korean military in Ukraine?      <- questions, chained along Yes
    Was the operation a good result?
    Operation had a good result                           <- statements, paired: yes / no
    Operation failed
    North Korean military given due recognition           <- the next pair continues each chain
    North Korean military not given due recognition

Every problem with an article is an ArticleError with a one-line message, so a CLI or an API can
show it as it is. This module knows nothing of Flask: plain Python, BeautifulSoup and the schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from pollserver.core.definition import (
    MAX_NODES,
    MAX_TEXT_LENGTH,
    DefinitionError,
    definition_warnings,
    validate_definition,
)

MAX_ARTICLE_BYTES = 2 * 1024 * 1024
ARTICLE_SUFFIXES = (".txt", ".html", ".htm")
DEFINITION_SUFFIX = ".json"
FORMATS = ("text", "html", "definition")

__all__ = [
    "ARTICLE_SUFFIXES",
    "DEFINITION_SUFFIX",
    "MAX_ARTICLE_BYTES",
    "Article",
    "ArticleError",
    "BuildResult",
    "NoFlowchartError",
    "build_entry",
    "build_polls_from_article",
    "expand_article_paths",
    "flowchart_line_spans",
    "parse_article",
    "read_article",
]


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


# Reading files ----------------------------------------------------------------------------------


def read_article(path: str | os.PathLike[str]) -> Article:
    """Read and parse one article file; every failure is an ArticleError."""
    path = Path(path)
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the name
        raise ArticleError("no such file") from None
    except OSError as error:
        raise ArticleError(f"cannot read file: {_os_reason(error)}") from None
    if stat.S_ISDIR(status.st_mode):
        raise ArticleError("is a directory")
    if not stat.S_ISREG(status.st_mode):
        raise ArticleError("not a regular file")
    # Refuse before reading: a huge file should cost nothing.
    if status.st_size > MAX_ARTICLE_BYTES:
        raise ArticleError(_TOO_LARGE)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_ARTICLE_BYTES + 1)  # +1: notice a file that grew since stat()
    except OSError as error:
        raise ArticleError(f"cannot read file: {_os_reason(error)}") from None
    return parse_article(raw, str(path))


def expand_article_paths(paths: Iterable[str]) -> list[tuple[str, Path | ArticleError]]:
    """Each path as given, a directory as the articles directly inside it (sorted).

    Problems are returned in place of the path so that one bad argument does not hide the others.
    """
    expanded: list[tuple[str, Path | ArticleError]] = []
    for name in paths:
        path = Path(name)
        # os.path answers False instead of raising (a NUL in the name, no permission to look).
        if not name or not os.path.lexists(name):
            expanded.append((name, ArticleError("no such file or directory")))
        elif os.path.isdir(name):
            try:
                articles = sorted(child for child in path.iterdir() if _is_article_file(child))
            except OSError as error:
                expanded.append((name, ArticleError(f"cannot list directory: {_os_reason(error)}")))
                continue
            if not articles:
                suffixes = ", ".join((*ARTICLE_SUFFIXES, DEFINITION_SUFFIX))
                expanded.append((name, ArticleError(f"no articles ({suffixes}) in directory")))
            expanded.extend((str(article), article) for article in articles)
        else:
            expanded.append((name, path))
    return expanded


def build_entry(source: str, path_or_error: Path | str | ArticleError) -> dict[str, Any]:
    """One entry of ``pollserver build`` output; bad input becomes an ``error``, never a raise."""
    if isinstance(path_or_error, ArticleError):
        return {"source": source, "polls": [], "error": str(path_or_error)}
    try:
        result = build_polls_from_article(read_article(path_or_error))
    except ArticleError as error:
        return {"source": source, "polls": [], "error": str(error)}
    return {"source": source, "polls": result.polls, "warnings": result.warnings}


def _is_article_file(path: Path) -> bool:
    # Dot files are editor backups and lock files, not articles.
    suffix = path.suffix.lower()
    readable = suffix in ARTICLE_SUFFIXES or suffix == DEFINITION_SUFFIX
    return readable and not path.name.startswith(".") and path.is_file()


def _os_reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


# Parsing ----------------------------------------------------------------------------------------

_TOO_LARGE = f"file is larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MB"
_UTF8_BOM = b"\xef\xbb\xbf"
# C0/C1 control characters other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_INVISIBLE_CHARACTERS = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_HTML_SNIFF = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|meta|p|div|span|a|br|h[1-6]|ul|ol|li|figure|"
    r"article|section|table)\b[^>]*>",
    re.IGNORECASE,
)


def parse_article(raw: bytes, source: str, *, format: str | None = None) -> Article:
    """Decode and split an article; ``format`` is guessed from the suffix, then the content."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    body = _decode(raw)
    format = format or _guess_format(source, body)
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if format == "html":
        title, lines, line_numbers = _read_html(text)
    else:
        lines = [_clean(line) for line in text.removesuffix("\n").split("\n")]
        line_numbers = list(range(1, len(lines) + 1))
        title = _definition_title(text) if format == "definition" else None
    if title is None and format != "definition":
        title = _first_headline(lines)
    return Article(
        source=source,
        title=title,
        lines=tuple(lines),
        body=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
        format=format,
        line_numbers=tuple(line_numbers),
    )


def _decode(raw: bytes) -> str:
    """The article's text without its BOM; unreadable input is an ArticleError."""
    if len(raw) > MAX_ARTICLE_BYTES:
        raise ArticleError(_TOO_LARGE)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ArticleError("not valid UTF-8 text (the file is UTF-16; save it as UTF-8)")
    if b"\x00" in raw:
        raise ArticleError("binary file, not an article")
    skipped = len(_UTF8_BOM) if raw.startswith(_UTF8_BOM) else 0
    try:
        text = raw[skipped:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        raise ArticleError(
            f"not valid UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset})"
        ) from None
    if not text.strip():
        raise ArticleError("file is empty")
    if len(_CONTROL_CHARACTERS.findall(text)) * 10 > len(text) * 3:
        raise ArticleError("binary file, not an article")
    return text


def _guess_format(source: str, text: str) -> str:
    suffix = Path(source).suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix == DEFINITION_SUFFIX:
        return "definition"
    if suffix == ".txt":
        return "text"
    start = text.lstrip()
    if start[:1] in ("{", "["):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return "definition"
    return "html" if _HTML_SNIFF.search(text, 0, 65536) else "text"


def _clean(line: str) -> str:
    """A logical line: no invisible characters, runs of white space as one space, stripped."""
    return " ".join(_INVISIBLE_CHARACTERS.sub("", line).split())


def _definition_title(text: str) -> str | None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        return _clean(document["title"]) or None
    return None


# Kinds of line ----------------------------------------------------------------------------------

_CLOSING_MARKS = "\"'”’»)]*"
_SENTENCE_ENDS = (".", "!", ":", "…")

# Page chrome: navigation, sharing and ad labels that scraped text carries along.
_CHROME_LINES = frozenset(
    {
        "skip to main content", "skip to content", "skip navigation", "skip to navigation",
        "menu", "main menu", "open menu", "close menu", "close", "search", "home",
        "comments", "comment", "show comments", "view comments", "leave a comment",
        "advertisement", "advertisements", "ad", "ads", "sponsored", "sponsored content",
        "share", "share this", "share this article", "share this story", "share article",
        "tweet", "email", "print", "copy link", "save", "listen", "listen to this article",
        "sign in", "sign out", "log in", "login", "log out", "logout", "register", "sign up",
        "subscribe", "subscribe now", "newsletter", "newsletters", "account", "my account",
        "related", "related articles", "related stories", "related content", "most read",
        "most popular", "trending", "read more", "more", "next", "previous", "back to top",
        "loading", "accept", "accept cookies", "cookie settings", "privacy policy",
        "terms of use", "terms of service", "contact us", "about us", "follow us",
        "facebook", "twitter", "x", "linkedin", "whatsapp", "instagram", "reddit",
    }
)  # fmt: skip
_CHROME_PREFIXES = (
    "related:", "related articles", "read more", "read next", "see also", "more from",
    "advertisement", "sponsored", "skip to", "jump to", "share on", "share this",
    "follow us", "sign in", "sign up", "subscribe", "photo:", "image:", "credit:",
    "listen to", "we use cookies", "this site uses cookies",
)  # fmt: skip
_COUNTER_CHROME = re.compile(r"^\d[\d,.]*k?\s+(comments?|shares?|replies|views)$")


def reads_as_prose(line: str) -> bool:
    """A sentence (ends in . ! : or …) or a line too long for a flowchart box."""
    return len(line) > MAX_TEXT_LENGTH or _final_mark(line) in _SENTENCE_ENDS


def is_question(line: str) -> bool:
    return _final_mark(line) == "?"


def is_chrome(line: str) -> bool:
    """Navigation, sharing and ad labels: never a title."""
    normalized = " ".join(line.casefold().split())
    if not any(character.isalnum() for character in normalized):
        return True  # separators, bullets, arrows
    bare = normalized.strip(" .:|•·-–—>»«›‹…")
    return (
        bare in _CHROME_LINES
        or normalized.startswith(_CHROME_PREFIXES)
        or _COUNTER_CHROME.match(bare) is not None
    )


def _final_mark(line: str) -> str:
    """The last punctuation that decides what a line is, looking past closing quotes/brackets."""
    return line.rstrip().rstrip(_CLOSING_MARKS)[-1:]


def _is_word(line: str, word: str) -> bool:
    return line.strip().casefold() == word


def _starts_block(lines: Sequence[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and _is_word(lines[index], "yes")
        and _is_word(lines[index + 1], "no")
    )


def _first_headline(lines: Sequence[str]) -> str | None:
    """The first line that could be a headline: not chrome, not prose, not part of a flowchart."""
    in_blocks = {
        index for block in _find_blocks(lines, lambda i: i + 1) for index in block.line_indexes
    }
    for index, line in enumerate(lines):
        if line and index not in in_blocks and not is_chrome(line) and not reads_as_prose(line):
            return line
    return None


# Flowchart blocks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A Yes/No block as read from the lines, well-formed or not."""

    start: int  # index of the "Yes" line
    end: int  # index of the line that ended the block (len(lines) at the end of the text)
    line: int  # source line of "Yes", for messages
    questions: tuple[str, ...]
    statements: tuple[str, ...]
    problem: str | None  # why it cannot become a poll

    @property
    def is_empty(self) -> bool:
        """Yes/No with nothing after them: left-over buttons, not a flowchart."""
        return not self.questions and not self.statements and self.problem is None

    @property
    def line_indexes(self) -> range:
        return range(self.start, self.end)


def _find_blocks(lines: Sequence[str], line_number: Callable[[int], int]) -> list[_Block]:
    blocks: list[_Block] = []
    index = 0
    while index < len(lines):
        if _starts_block(lines, index):
            block = _read_block(lines, index, line_number)
            blocks.append(block)
            index = block.end
        else:
            index += 1
    return blocks


def _read_block(lines: Sequence[str], start: int, line_number: Callable[[int], int]) -> _Block:
    questions: list[str] = []
    statements: list[str] = []
    end = start + 2
    while end < len(lines):
        line = lines[end]
        if not line or _starts_block(lines, end) or reads_as_prose(line):
            break
        if is_question(line):
            if statements:
                break  # a question after the outcomes belongs to what follows the block
            questions.append(line)
        else:
            statements.append(line)
        end += 1
    problem = _block_problem(lines, end, questions, statements, line_number)
    return _Block(
        start=start,
        end=end,
        line=line_number(start),
        questions=tuple(questions),
        statements=tuple(statements),
        problem=problem,
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


def _definition_from_block(block: _Block, title: str) -> dict[str, Any]:
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
                "text": text,
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
                "text": text,
                "next": f"o{follower}" if follower <= outcome_count else None,
            }
        )
    return {"title": title, "root": "q1", "nodes": nodes}


# Building ---------------------------------------------------------------------------------------


def build_polls_from_article(article: Article) -> BuildResult:
    """One validated definition per flowchart block (or per definition in a JSON file)."""
    if article.format == "definition":
        return _build_from_definition_file(article)

    blocks = _find_blocks(article.lines, article.line_number)
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
            poll = validate_definition(_definition_from_block(block, title))
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
    blocks = _find_blocks(article.lines, article.line_number)
    return [(block.start, block.end) for block in blocks if not block.is_empty]


def _numbered_title(title: str, number: int) -> str:
    """The article title, " (2)", " (3)" … for later blocks, cut to fit the text limit."""
    suffix = f" ({number})" if number > 1 else ""
    return _shorten(title, MAX_TEXT_LENGTH - len(suffix)) + suffix


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _build_from_definition_file(article: Article) -> BuildResult:
    try:
        document = json.loads(article.body)
    except json.JSONDecodeError as error:
        raise ArticleError(
            f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise ArticleError("not valid JSON (nested too deeply)") from None
    definitions = _definitions_in(document)
    polls: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, definition in enumerate(definitions, start=1):
        several = len(definitions) > 1
        try:
            poll = validate_definition(definition)
        except DefinitionError as error:
            raise ArticleError(f"definition {number}: {error}" if several else str(error)) from None
        polls.append(poll)
        prefix = f"poll {number}: " if several else ""
        warnings.extend(prefix + warning for warning in definition_warnings(poll))
    return BuildResult(title=polls[0]["title"], polls=polls, warnings=warnings)


def _definitions_in(document: object) -> list[object]:
    """A definition, a list of them, or a ``pollserver build`` entry (its ``polls``)."""
    if isinstance(document, dict) and "polls" in document and "nodes" not in document:
        document = document["polls"]
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        if not document:
            raise NoFlowchartError("no poll definitions in the file")
        return document
    raise ArticleError("a definition file holds a JSON object (one poll) or a list of them")


# HTML -------------------------------------------------------------------------------------------

# Never article text: code, page chrome, embedded media and form controls.
_DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "head", "nav", "header", "footer", "svg",
        "math", "button", "select", "textarea", "iframe", "object", "embed", "canvas",
        "audio", "video",
    }
)  # fmt: skip
# Elements that start a new line.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "hr", "html", "legend", "li", "main",
        "ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "ul", "[document]",
    }
)  # fmt: skip
# Containers whose end ends a flowchart block, when they hold more than one line (a <div> around
# a single label acts like a paragraph).
_CONTAINER_TAGS = frozenset(
    {
        "figure", "ul", "ol", "div", "section", "table", "article", "aside", "main",
        "blockquote", "dl", "details", "form", "fieldset", "body", "html",
    }
)  # fmt: skip
# Captions and rules are never part of a flowchart: a block ends before and after them.
_SEPARATE_TAGS = frozenset({"figcaption", "caption", "hr"})


def _read_html(text: str) -> tuple[str | None, list[str], list[int]]:
    try:
        soup = BeautifulSoup(text, "html.parser")
        title = _html_title(soup)
        lines, line_numbers = _html_lines(soup)
    except RecursionError:
        raise ArticleError("HTML is nested too deeply") from None
    return title, lines, line_numbers


def _html_title(soup: BeautifulSoup) -> str | None:
    """The article's <h1> (one inside <article>/<main> first), else the page <title>."""
    headings = soup.find_all("h1")
    # A site's logo is often an <h1> too: prefer the headline of the article itself.
    headings.sort(key=lambda heading: heading.find_parent(["article", "main"]) is None)
    candidates = [_clean(heading.get_text(" ")) for heading in headings]
    page_title = soup.find("title")
    if page_title is not None:
        candidates.append(_clean(page_title.get_text(" ")))
    for candidate in candidates:
        if candidate and not is_chrome(candidate):
            return _shorten(candidate, MAX_TEXT_LENGTH)
    return None


class _LineWriter:
    """Collects the text of an HTML document as logical lines with their source line numbers."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line_numbers: list[int] = []
        self._parts: list[str] = []
        self._line_number = 1

    def add_text(self, text: str, line_number: int) -> None:
        if not self._parts:
            self._line_number = line_number
        self._parts.append(text)

    def end_line(self, *, keep_blank: bool = False) -> None:
        line = _clean("".join(self._parts))
        self._parts.clear()
        if line:
            self.lines.append(line)
            self.line_numbers.append(self._line_number)
        elif keep_blank:
            self.end_block()

    def end_block(self) -> None:
        self.end_line()
        if self.lines and self.lines[-1]:
            self.lines.append("")
            self.line_numbers.append(self.line_numbers[-1])


def _html_lines(soup: BeautifulSoup) -> tuple[list[str], list[int]]:
    """Walk the tree without recursion (articles can nest deeply) and write its lines."""
    writer = _LineWriter()
    preformatted = 0  # depth of <pre>: there, newlines are line breaks
    # Entries: (element, None) on the way in; (tag, lines written before it) on the way out.
    pending: list[tuple[PageElement, int | None]] = [(soup, None)]
    while pending:
        element, lines_before = pending.pop()
        if isinstance(element, Tag):
            name = element.name
            if lines_before is not None:  # leaving a block element
                writer.end_line()
                if name == "pre":
                    preformatted -= 1
                if name in _SEPARATE_TAGS or (
                    name in _CONTAINER_TAGS and len(writer.lines) - lines_before >= 2
                ):
                    writer.end_block()
                continue
            if name in _DROPPED_TAGS:
                continue
            if name == "br":
                writer.end_line()
                continue
            if name in _BLOCK_TAGS:
                if name in _SEPARATE_TAGS:
                    writer.end_block()
                else:
                    writer.end_line()
                if name == "pre":
                    preformatted += 1
                pending.append((element, len(writer.lines)))
            pending.extend((child, None) for child in reversed(element.contents))
        elif type(element) is NavigableString:  # not a comment, doctype or other markup
            _write_text(writer, str(element), _source_line(element), preformatted > 0)
    writer.end_block()
    while writer.lines and not writer.lines[-1]:
        writer.lines.pop()
        writer.line_numbers.pop()
    return writer.lines, writer.line_numbers


def _write_text(writer: _LineWriter, text: str, line_number: int, preformatted: bool) -> None:
    if not preformatted:
        writer.add_text(text, line_number)
        return
    for offset, part in enumerate(text.split("\n")):
        if offset:
            writer.end_line(keep_blank=True)
        writer.add_text(part, line_number + offset)


def _source_line(element: PageElement) -> int:
    parent = element.parent
    while parent is not None and getattr(parent, "sourceline", None) is None:
        parent = parent.parent
    return parent.sourceline if parent is not None and parent.sourceline else 1
