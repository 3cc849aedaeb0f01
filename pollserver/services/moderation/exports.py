"""Exports of a poll's responses, streamed line by line so a million respondents cost constant
memory: CSV and JSON lines, without the address hash (it must not leave the service)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from pollserver.core.timestamps import iso
from pollserver.core.tree import PollTree
from pollserver.models import Poll
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.moderation.responses import ResponseRecord

EXPORT_COLUMNS = (
    "respondent",
    "started",
    "finished",
    "path",
    "outcome",
    "hidden",
    "path_text",
    "outcome_text",
)


def export_document(record: ResponseRecord) -> dict[str, Any]:
    """One respondent as exported: no address hash, which must not leave the service."""
    return {
        "respondent": record.respondent,
        "started": iso(record.started_at),
        "finished": iso(record.finished_at),
        "path": [{"node": key, "answer": answer} for key, answer in record.path],
        "outcome": record.outcome,
        "hidden": record.hidden,
    }


def path_text(tree: PollTree, path: Sequence[tuple[str, str]]) -> str:
    """A path as a reader would read it: "Question? Yes > Next question? No"."""
    return " > ".join(f"{tree.nodes[key].text} {answer.capitalize()}" for key, answer in path)


def outcome_texts(tree: PollTree, outcome: Sequence[str]) -> list[str]:
    return [tree.nodes[key].text for key in outcome]


# What a spreadsheet takes for the start of a formula (=1+1, @SUM(…), -2+3, +HYPERLINK(…)), and
# the tab and carriage return that some read past before one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_spreadsheet_text(value: Any) -> Any:
    """A cell a spreadsheet reads as text: one that would start a formula gets a leading
    apostrophe (OWASP's advice for CSV injection). Poll texts come from articles, which anyone
    may have written; a reader's token may start with "-" too."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(records: Iterable[ResponseRecord], tree: PollTree) -> Iterator[str]:
    """CSV text, one line at a time: path as "q1:yes>q2:no", outcome as "o1>o3", and both again
    as the texts readers saw; no cell starts a formula (``as_spreadsheet_text``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([as_spreadsheet_text(value) for value in values])
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    for record in records:
        yield line(
            (
                record.respondent,
                iso(record.started_at),
                iso(record.finished_at) or "",
                ">".join(f"{key}:{answer}" for key, answer in record.path),
                ">".join(record.outcome),
                "true" if record.hidden else "false",
                path_text(tree, record.path),
                " > ".join(outcome_texts(tree, record.outcome)),
            )
        )


def json_lines(records: Iterable[ResponseRecord], tree: PollTree) -> Iterator[str]:
    """One object per respondent; each step of the path names its question's text, and the
    outcome's texts come beside their ids."""
    for record in records:
        document = export_document(record)
        for step in document["path"]:
            step["question"] = tree.nodes[step["node"]].text
        document["outcome_text"] = outcome_texts(tree, record.outcome)
        yield json.dumps(document, ensure_ascii=False) + "\n"


def record_export(
    session: Session, poll: Poll, export_format: str, actor: str, now: dt.datetime | None = None
) -> None:
    record_audit(
        session,
        actor,
        Action.RESPONSES_EXPORT,
        poll_public_id=poll.public_id,
        after={"format": export_format},
        now=now,
    )
