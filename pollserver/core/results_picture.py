"""The results as a picture: the tree drawn as an indented outline, each branch with its share.

For places where JavaScript cannot run (newsletters, AMP, apps). Plain Python: ElementTree builds
the SVG, so every poll text is escaped by construction — poll texts are data, never markup.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ElementTree
from typing import Any

from pollserver.core.tree import NO, YES, PollTree

WIDTH = 600
ROW_HEIGHT = 24
INDENT = 22
MARGIN = 16
BAR_WIDTH = 90
CHARACTER_WIDTH = 7.2  # average advance of the 13 px sans-serif used, to fit text to the width
NOTE_LINE_CHARACTERS = 80
MAX_ROWS = 160  # a tree whose branches rejoin can unfold into many rows; say so instead
HEADER_HEIGHT = 58  # the title and the summary line above the rows

INK = "#1f2328"
MUTED = "#57606a"
ACCENT = "#0b5cad"
TRACK = "#d8dee4"

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f}%"


def fit(text: str, x: float, reserved: float = 0) -> str:
    room = int((WIDTH - MARGIN - x - reserved) / CHARACTER_WIDTH)
    return text if len(text) <= room else text[: max(room - 1, 1)].rstrip() + "…"


class _Outline:
    def __init__(self, tree: PollTree, results: dict[str, Any]):
        self.tree = tree
        self.results = results
        self.rows: list[dict[str, Any]] = []
        self.truncated = False
        self.drawn: set[str] = set()  # questions already drawn: rejoining branches point back

    def add(self, depth: int, kind: str, text: str, **extra: Any) -> None:
        if len(self.rows) >= MAX_ROWS:
            self.truncated = True
            return
        self.rows.append({"depth": depth, "kind": kind, "text": text, **extra})

    def question(self, key: str, depth: int) -> None:
        if self.truncated:
            return  # stop walking, not only drawing: the paths of a DAG can be exponential
        node = self.tree.nodes[key]
        if key in self.drawn:
            self.add(depth, "end", f"continues at “{fit(node.text, 0, reserved=WIDTH / 2)}” above")
            return
        self.drawn.add(key)
        numbers = self.results["questions"][key]
        self.add(depth, "question", node.text, full=node.text, count=numbers["reached"])
        answered = numbers["yes"] + numbers["no"]
        for branch, target in ((YES, node.yes), (NO, node.no)):
            count = numbers[branch]
            share = numbers["yes_share"]
            if share is not None and branch == NO:
                share = round(1 - share, 4) if answered else None
            label = "Yes" if branch == YES else "No"
            self.add(depth + 1, "branch", label, share=share, count=count)
            self.follow(target, depth + 2)

    def follow(self, key: str | None, depth: int) -> None:
        if key is None:
            self.add(depth, "end", "end of the poll")
        elif self.tree.nodes[key].type == "question":
            self.question(key, depth)
        else:
            for outcome in self.tree.outcome_chain(key):
                numbers = self.results["outcomes"][outcome]
                text = self.tree.nodes[outcome].text
                self.add(
                    depth,
                    "outcome",
                    text,
                    full=text,
                    share=numbers["share_of_finished"],
                    count=numbers["reached"],
                )


def render_results_svg(tree: PollTree, title: str, results: dict[str, Any]) -> str:
    """The results of ``tree`` as an SVG document: a header, one row per outline entry, the note."""
    outline = _Outline(tree, results)
    outline.question(tree.root, 0)
    note_lines = textwrap.wrap(results["note"], width=NOTE_LINE_CHARACTERS)

    rows_bottom = HEADER_HEIGHT + len(outline.rows) * ROW_HEIGHT
    footer_height = 28 + 16 * len(note_lines) + (ROW_HEIGHT if outline.truncated else 0)
    svg = _svg_element(rows_bottom + footer_height)
    _draw_header(svg, title, results)
    for index, row in enumerate(outline.rows):
        _draw_row(svg, HEADER_HEIGHT + index * ROW_HEIGHT, row)
    _draw_footer(svg, rows_bottom + 20, outline.truncated, note_lines)
    return ElementTree.tostring(svg, encoding="unicode")


def _svg_element(height: int) -> ElementTree.Element:
    return ElementTree.Element(
        "svg",
        {
            "xmlns": SVG_NAMESPACE,
            "width": str(WIDTH),
            "height": str(height),
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "font-family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "font-size": "13",
        },
    )


def _draw_header(svg: ElementTree.Element, title: str, results: dict[str, Any]) -> None:
    """The accessible title, a white background, the poll's title and who answered as of when."""
    ElementTree.SubElement(svg, "title").text = f"Results: {title}"
    ElementTree.SubElement(svg, "rect", {"width": "100%", "height": "100%", "fill": "#ffffff"})
    heading = ElementTree.SubElement(
        svg,
        "text",
        {"x": str(MARGIN), "y": "24", "font-size": "16", "font-weight": "700", "fill": INK},
    )
    heading.text = fit(title, MARGIN, reserved=WIDTH * 0.15)  # bold 16 px runs wider
    summary = (
        f"{results['respondents']} readers started, {results['finished']} finished "
        f"· as of {results['as_of'][:16].replace('T', ' ')} UTC"
    )
    if not results["shares_published"]:
        summary += f" · shares shown from {results['min_respondents']} readers"
    ElementTree.SubElement(svg, "text", {"x": str(MARGIN), "y": "44", "fill": MUTED}).text = summary


def _draw_row(svg: ElementTree.Element, y: int, row: dict[str, Any]) -> None:
    """One outline row at height ``y``, indented by its depth and joined to its parent."""
    x = MARGIN + row["depth"] * INDENT
    baseline = y + 16
    if row["depth"]:
        _draw_connector(svg, x, y)
    kind = row["kind"]
    if kind == "question":
        _draw_question(svg, x, baseline, row)
    elif kind == "branch":
        _draw_branch(svg, x, y, baseline, row)
    elif kind == "outcome":
        _draw_outcome(svg, x, baseline, row)
    else:
        _draw_end(svg, x, baseline, row)


def _draw_connector(svg: ElementTree.Element, x: int, y: int) -> None:
    # The connector from the parent: down, then across.
    ElementTree.SubElement(
        svg,
        "path",
        {
            "d": f"M{x - INDENT + 6} {y - 6} V{y + 12} H{x - 4}",
            "fill": "none",
            "stroke": TRACK,
            "stroke-width": "1.5",
        },
    )


def _draw_question(svg: ElementTree.Element, x: int, baseline: int, row: dict[str, Any]) -> None:
    """The question (its full text as a tooltip) and, at the right, how many reached it."""
    text = ElementTree.SubElement(
        svg, "text", {"x": str(x), "y": str(baseline), "font-weight": "600", "fill": INK}
    )
    text.text = fit(row["text"], x, reserved=90)
    ElementTree.SubElement(text, "title").text = row["full"]
    ElementTree.SubElement(
        svg,
        "text",
        {"x": str(WIDTH - MARGIN), "y": str(baseline), "text-anchor": "end", "fill": MUTED},
    ).text = f"{row.get('count')} reached"


def _draw_branch(
    svg: ElementTree.Element, x: int, y: int, baseline: int, row: dict[str, Any]
) -> None:
    """Yes or No with a bar of its share (a bare track when shares are not published)."""
    share = row.get("share")
    count = row.get("count")
    label = ElementTree.SubElement(
        svg, "text", {"x": str(x), "y": str(baseline), "font-weight": "600", "fill": ACCENT}
    )
    label.text = row["text"]
    bar_x = x + 36
    ElementTree.SubElement(
        svg,
        "rect",
        {
            "x": str(bar_x),
            "y": str(y + 6),
            "width": str(BAR_WIDTH),
            "height": "10",
            "rx": "3",
            "fill": TRACK,
        },
    )
    if share is not None:
        ElementTree.SubElement(
            svg,
            "rect",
            {
                "x": str(bar_x),
                "y": str(y + 6),
                "width": f"{BAR_WIDTH * share:.1f}",
                "height": "10",
                "rx": "3",
                "fill": ACCENT,
            },
        )
    numbers = f"{percent(share)} ({count})" if share is not None else f"{count} readers"
    ElementTree.SubElement(
        svg, "text", {"x": str(bar_x + BAR_WIDTH + 8), "y": str(baseline), "fill": INK}
    ).text = numbers


def _draw_outcome(svg: ElementTree.Element, x: int, baseline: int, row: dict[str, Any]) -> None:
    """An outcome (its full text as a tooltip) and, at the right, its share of finished readers."""
    share = row.get("share")
    count = row.get("count")
    text = ElementTree.SubElement(svg, "text", {"x": str(x), "y": str(baseline), "fill": INK})
    text.text = "→ " + fit(row["text"], x, reserved=120)
    ElementTree.SubElement(text, "title").text = row["full"]
    detail = f"{percent(share)} of finished ({count})" if share is not None else f"{count}"
    ElementTree.SubElement(
        svg,
        "text",
        {"x": str(WIDTH - MARGIN), "y": str(baseline), "text-anchor": "end", "fill": MUTED},
    ).text = detail


def _draw_end(svg: ElementTree.Element, x: int, baseline: int, row: dict[str, Any]) -> None:
    """Where a path ends, or continues at a question drawn above."""
    ElementTree.SubElement(
        svg,
        "text",
        {"x": str(x), "y": str(baseline), "fill": MUTED, "font-style": "italic"},
    ).text = row["text"]


def _draw_footer(svg: ElementTree.Element, y: int, truncated: bool, note_lines: list[str]) -> None:
    """Where a truncated tree continues, then the note, starting at height ``y``."""
    if truncated:
        ElementTree.SubElement(
            svg, "text", {"x": str(MARGIN), "y": str(y), "fill": MUTED}
        ).text = "… the tree continues; the API has every number."
        y += ROW_HEIGHT
    for line in note_lines:  # the whole note, always: it is the honest caveat
        ElementTree.SubElement(
            svg, "text", {"x": str(MARGIN), "y": str(y), "fill": MUTED, "font-size": "12"}
        ).text = line
        y += 16
