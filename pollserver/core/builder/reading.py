"""Reading articles: files and directories, bytes to text, the format, and the logical lines.

An article is plain text, HTML, or a JSON file holding hand-written definitions. Files are
refused before they are read when they are too large, bytes that are not UTF-8 text are refused
with the offset of the first bad byte, and the format is guessed from the suffix, then the
content. HTML is written out as lines by ``html_lines``; the headline rule is the flowchart
rule's. Every failure is an ArticleError.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path, PurePath

from pollserver.core.builder.article import Article, ArticleError, clean_line
from pollserver.core.builder.flowchart import first_headline
from pollserver.core.builder.html_lines import read_html

MAX_ARTICLE_BYTES = 2 * 1024 * 1024
# Markdown is read as text, its markup taken off each line (markdown_line).
MARKDOWN_SUFFIXES = (".md", ".markdown")
ARTICLE_SUFFIXES = (".txt", *MARKDOWN_SUFFIXES, ".html", ".htm")
DEFINITION_SUFFIX = ".json"
FORMATS = ("text", "html", "definition")
FORMAT_BY_SUFFIX = {
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    **dict.fromkeys(MARKDOWN_SUFFIXES, "text"),
    DEFINITION_SUFFIX: "definition",
}

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
        title, lines, line_numbers = read_html(text)
    else:
        lines = [clean_line(line) for line in text.removesuffix("\n").split("\n")]
        title = _definition_title(text) if format == "definition" else None
        if PurePath(source).suffix.lower() in MARKDOWN_SUFFIXES:
            lines, front_title = _without_front_matter(lines)
            title = _markdown_title(lines) or front_title  # its "# Heading", where it has one
            lines = [markdown_line(line) for line in lines]
        line_numbers = list(range(1, len(lines) + 1))
    if title is None and format != "definition":
        title = first_headline(lines)
    return Article(
        source=source,
        title=title,
        lines=tuple(lines),
        body=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
        format=format,
        line_numbers=tuple(line_numbers),
    )


_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.*?)(?:\s+#+)?$")
_MARKDOWN_QUOTE = re.compile(r"^(?:>\s?)+")
_MARKDOWN_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")


def _without_front_matter(lines: list[str]) -> tuple[list[str], str | None]:
    """A Markdown file's lines with its YAML front matter blanked (line numbers kept), and the
    ``title:`` it gives, if any."""
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        return lines, None
    end = lines.index("---", 1)
    title = next(
        (
            line.split(":", 1)[1].strip().strip("\"'") or None
            for line in lines[1:end]
            if line.casefold().startswith("title:")
        ),
        None,
    )
    return [""] * (end + 1) + lines[end + 1 :], title


def _markdown_title(lines: list[str]) -> str | None:
    for line in lines:
        heading = _MARKDOWN_HEADING.match(line)
        if heading and line.startswith("# ") and heading["text"]:
            return heading["text"]
    return None


def markdown_line(line: str) -> str:
    """A Markdown line as the flowchart rule reads it: a heading's text, a quote's text, a rule
    as a blank line (it ends a block); list markers and emphasis are the rule's own business
    (``languages.box_text``)."""
    if _MARKDOWN_RULE.match(line):
        return ""
    line = _MARKDOWN_QUOTE.sub("", line)
    heading = _MARKDOWN_HEADING.match(line)
    return heading["text"] if heading else line


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


def format_of_name(name: str) -> str | None:
    """The format a file name's suffix says an article is in, or None."""
    return FORMAT_BY_SUFFIX.get(PurePath(name).suffix.lower())


def _guess_format(source: str, text: str) -> str:
    named = format_of_name(source)
    if named is not None:
        return named
    start = text.lstrip()
    if start[:1] in ("{", "["):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return "definition"
    return "html" if _HTML_SNIFF.search(text, 0, 65536) else "text"


def _definition_title(text: str) -> str | None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        return clean_line(document["title"]) or None
    return None
