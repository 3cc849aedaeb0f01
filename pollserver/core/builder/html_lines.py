"""HTML to logical lines: an article page written out as the lines the flowchart rule reads.

BeautifulSoup parses the page; code, page chrome, media and form controls are dropped; block
elements start new lines, and the end of a container (figure, list, div, table …) that held
more than one line is written as a blank line, which ends a flowchart block. Each line keeps
the source line it starts on, for messages. The page's title comes from its ``<h1>`` or
``<title>``.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from pollserver.core.builder.article import ArticleError, clean_line, shorten
from pollserver.core.builder.flowchart import is_chrome
from pollserver.core.definition import MAX_TEXT_LENGTH

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


def read_html(text: str) -> tuple[str | None, list[str], list[int]]:
    """The page's title, its logical lines and the source line each starts on."""
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
    candidates = [clean_line(heading.get_text(" ")) for heading in headings]
    page_title = soup.find("title")
    if page_title is not None:
        candidates.append(without_site_name(clean_line(page_title.get_text(" "))))
    for candidate in candidates:
        if candidate and not is_chrome(candidate):
            return shorten(candidate, MAX_TEXT_LENGTH)
    return None


# A page <title> names the site (and section) beside the headline: "Headline | The Daily
# Example", "Headline – The Daily Example", now and then "The Daily Example | Headline".
_PIPE = re.compile(r"\s+[|｜]\s+")
# A dash before a short, capitalised name; a headline may hold a dash of its own ("Covid-19 in
# Europe - what now for schools", "Brexit deal agreed - what happens next").
_DASH_SITE = re.compile(r"^(?P<head>.*\S)\s+[-–—·•]\s+(?P<site>[A-Z0-9]\S*(?:\s+\S+){0,3})$")


def without_site_name(title: str) -> str:
    """A page title without the site's name: the headline side of a pipe (the first part,
    unless it is a short name before a much longer one), then a short capitalised name after a
    dash, twice at most (a section, then the site). Never down to a single word."""
    parts = _PIPE.split(title)
    if len(parts) > 1:
        first, last = parts[0], parts[-1]
        name_first = len(first.split()) <= 4 and len(last.split()) > 2 * len(first.split())
        title = last if name_first else first
    for _ in range(2):
        match = _DASH_SITE.match(title)
        if match is None or len(match["head"].split()) < 2:
            break
        title = match["head"]
    return title


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
        line = clean_line("".join(self._parts))
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
