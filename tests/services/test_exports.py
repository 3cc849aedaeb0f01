"""The CSV export as a spreadsheet opens it: no cell starts a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from pollserver.core.tree import PollTree
from pollserver.services.moderation.exports import csv_lines
from pollserver.services.moderation.responses import ResponseRecord

from helpers import SEED_DEFINITION


def test_cells_that_would_start_a_formula_are_read_as_text():
    definition = json.loads(json.dumps(SEED_DEFINITION))
    formulas = ['=HYPERLINK("http://evil.example","Yes")?', "+1+1?", "@SUM(A1)", "-2+3"]
    for node, text in zip(definition["nodes"], formulas, strict=False):
        node["text"] = text
    tree = PollTree.from_definition(definition)
    record = ResponseRecord(
        respondent=1,
        started_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
        finished_at=None,
        path=[("q1", "yes"), ("q2", "yes")],
        outcome=["o1"],
        hidden=False,
        address_hash=None,
    )
    rows = list(csv.reader(io.StringIO("".join(csv_lines([record], tree)))))
    header, row = rows
    assert row[header.index("path_text")] == "'" + formulas[0] + " Yes > +1+1? Yes"
    assert row[header.index("outcome_text")] == "'@SUM(A1)"
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
