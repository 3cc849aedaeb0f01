"""A poll version's responses as a download, streamed: for the admin API and the desk alike.

The export is recorded in the audit log (committed first, so a download that fails half-way
is still on record), then the rows stream in constant memory.
"""

from __future__ import annotations

from flask import Response, stream_with_context

from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.loaders import load_poll
from pollserver.results_cache import tree_of
from pollserver.services.moderation.exports import csv_lines, json_lines, record_export
from pollserver.services.moderation.responses import response_records

EXPORT_FORMATS = {
    "csv": ("text/csv", csv_lines),
    "jsonl": ("application/x-ndjson", json_lines),
}


def export_response(poll_id: str, version: int | None, export_format: str, actor: str) -> Response:
    mimetype, lines_of = EXPORT_FORMATS[export_format]
    begin_write_transaction()
    poll = load_poll(poll_id, version)
    record_export(db.session, poll, export_format, actor)
    db.session.commit()
    poll = load_poll(poll_id, version)
    tree = tree_of(poll)
    records = response_records(db.session, poll, tree)
    response = Response(stream_with_context(lines_of(records, tree)), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="poll-{poll.public_id}-v{poll.version}-responses.{export_format}"'
    )
    return response
