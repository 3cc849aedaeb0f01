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
    outline = _Outline(tree, results)
    outline.question(tree.root, 0)

    header_height = 58
    footer_height = 28 + 16 * len(textwrap.wrap(results["note"], width=NOTE_LINE_CHARACTERS))
    footer_height += ROW_HEIGHT if outline.truncated else 0
    height = header_height + len(outline.rows) * ROW_HEIGHT + footer_height

    svg = ElementTree.Element(
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

    for index, row in enumerate(outline.rows):
        y = header_height + index * ROW_HEIGHT
        x = MARGIN + row["depth"] * INDENT
        baseline = y + 16
        if row["depth"]:
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
        kind = row["kind"]
        share = row.get("share")
        count = row.get("count")
        if kind == "question":
            text = ElementTree.SubElement(
                svg, "text", {"x": str(x), "y": str(baseline), "font-weight": "600", "fill": INK}
            )
            text.text = fit(row["text"], x, reserved=90)
            ElementTree.SubElement(text, "title").text = row["full"]
            ElementTree.SubElement(
                svg,
                "text",
                {"x": str(WIDTH - MARGIN), "y": str(baseline), "text-anchor": "end", "fill": MUTED},
            ).text = f"{count} reached"
        elif kind == "branch":
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
        elif kind == "outcome":
            text = ElementTree.SubElement(
                svg, "text", {"x": str(x), "y": str(baseline), "fill": INK}
            )
            text.text = "→ " + fit(row["text"], x, reserved=120)
            ElementTree.SubElement(text, "title").text = row["full"]
            detail = f"{percent(share)} of finished ({count})" if share is not None else f"{count}"
            ElementTree.SubElement(
                svg,
                "text",
                {"x": str(WIDTH - MARGIN), "y": str(baseline), "text-anchor": "end", "fill": MUTED},
            ).text = detail
        else:
            ElementTree.SubElement(
                svg,
                "text",
                {"x": str(x), "y": str(baseline), "fill": MUTED, "font-style": "italic"},
            ).text = row["text"]

    note_lines = textwrap.wrap(results["note"], width=NOTE_LINE_CHARACTERS)
    y = header_height + len(outline.rows) * ROW_HEIGHT + 20
    if outline.truncated:
        ElementTree.SubElement(
            svg, "text", {"x": str(MARGIN), "y": str(y), "fill": MUTED}
        ).text = "… the tree continues; the API has every number."
        y += ROW_HEIGHT
    for line in note_lines:  # the whole note, always: it is the honest caveat
        ElementTree.SubElement(
            svg, "text", {"x": str(MARGIN), "y": str(y), "fill": MUTED, "font-size": "12"}
        ).text = line
        y += 16
    return ElementTree.tostring(svg, encoding="unicode")
