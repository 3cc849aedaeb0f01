"""What a reader's browser downloads to show a poll: the widget's served files, in bytes.

Bytes are exact and repeatable, so no rounds and no noise: each file is built the way the server
and the wheel build it (``pollserver.widget_build``: tdewolff/minify, gzip 9, brotli 11) and put
beside its own source sent gzipped without a minifier, the reference measured in the same run.
The budget for ``widget.js`` is 6 KB (6144 bytes) gzipped.

    python bench/widget_bytes.py [--markdown]

Not part of the test suite (tests/pages/test_embed.py checks the budget on the served file).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pollserver import widget_build  # noqa: E402

WIDGET_FOLDER = ROOT / "widget"
BUDGET_GZIP = 6144


def source_of(name: str) -> bytes:
    """The source a built file comes from, with what the build bundles into it."""
    if name == widget_build.WIDGET:
        words_en = widget_build.compact_json(WIDGET_FOLDER / "words" / "en.json")
        source = widget_build.widget_source(WIDGET_FOLDER, words_en, {})
        return source.encode()
    if name.startswith(widget_build.WORDS_PATH + "/"):
        return (WIDGET_FOLDER / "words" / Path(name).name).read_bytes()
    return (WIDGET_FOLDER / name).read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    build = widget_build.build_widget(WIDGET_FOLDER)
    rows = []
    for built in build.files:
        source = source_of(built.name)
        reference = len(gzip.compress(source, compresslevel=9, mtime=0))
        rows.append(
            (
                built.name,
                len(source),
                reference,
                len(built.body),
                len(built.gzip),
                len(built.brotli),
                len(built.gzip) / reference,
                len(built.brotli) / reference,
            )
        )
    header = (
        "file",
        "source B",
        "source gzip B (ref)",
        "minified B",
        "gzip B",
        "brotli B",
        "gzip/ref",
        "brotli/ref",
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| {} | {:,} | {:,} | {:,} | {:,} | {:,} | {:.2f}× | {:.2f}× |".format(*row))
    else:
        line = "{:>20}" + "  {:>20,}" * 5 + "  {:>19.2f}×" * 2
        print("  ".join(f"{name:>20}" for name in header))
        for row in rows:
            print(line.format(*row))
    widget = next(row for row in rows if row[0] == widget_build.WIDGET)
    verdict = "within" if widget[4] <= BUDGET_GZIP else "OVER"
    print(f"\nwidget.js gzipped: {widget[4]:,} B, {verdict} the {BUDGET_GZIP:,} B budget")


if __name__ == "__main__":
    main()
