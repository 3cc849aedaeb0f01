"""The desk's audit log: every change, said in words, with the poll's title and what changed
from what to what (the API keeps the raw before/after JSON)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from sqlalchemy import select

from pollserver import auth
from pollserver.core.identifiers import AUDIT_ACTION, PUBLIC_ID, TOKEN_NAME, anchored
from pollserver.core.roles import Permission
from pollserver.extensions import db
from pollserver.models import AuditEvent, Poll
from pollserver.pages.moderation.blueprint import bp
from pollserver.services.listing import page_of
from pollserver.services.moderation.audit import Action, AuditFilter, audit_events_query

AUDIT_PAGE_SIZE = 100

ACTION_WORDS = {
    Action.ARTICLE_SUBMIT: "Article brought in",
    Action.ARTICLE_DELETE: "Article deleted",
    Action.POLL_CREATE: "Poll version made",
    Action.POLL_STATUS: "Status changed",
    Action.POLL_SETTINGS: "Settings changed",
    Action.POLL_TEXT_FIX: "Texts fixed",
    Action.POLL_DEFINITION: "Tree changed",
    Action.POLL_DELETE: "Poll deleted",
    Action.POLL_DISCARD: "Draft discarded",
    Action.RESPONSES_HIDE: "Responses hidden",
    Action.RESPONSES_RESTORE: "Responses restored",
    Action.RESPONSES_EXPORT: "Responses exported",
    Action.TOKEN_CREATE: "Token created",
    Action.TOKEN_REVOKE: "Token revoked",
    Action.AUTH_REFUSED: "Token refused",
}
FIELD_WORDS = {
    "title": "title",
    "status": "status",
    "version": "version",
    "close_at": "closes",
    "open_at": "opens",
    "results_visibility": "results shown",
    "allow_answer_changes": "answer changes allowed",
    "allowed_origins": "sites allowed to embed",
    "language": "language",
    "superseded_by": "replaced by version",
    "scheduled": "by its schedule",
    # A refused token: where it was presented, and the address's pseudonym of that day.
    "via": "presented at",
    "address": "from address (pseudonym of the day)",
}
# Big or internal values the log keeps but a reader of the page does not need spelled out.
SUMMARISED = {"definition", "warnings", "polls", "before", "after"}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ReadableEvent:
    event: AuditEvent
    action: str
    poll_title: str | None
    version: int | None  # the poll version it concerns
    changes: list[Change]


def said(value: Any) -> str:
    """A before/after value in words."""
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(said(item) for item in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {said(item)}" for key, item in value.items())
    return (
        str(value).replace("_", " ") if isinstance(value, str) and " " not in value else str(value)
    )


def field_name(key: str) -> str:
    if key.startswith("node:"):
        return f"text of {key.removeprefix('node:')}"
    return FIELD_WORDS.get(key, key.replace("_", " "))


def changes_of(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    before, after = before or {}, after or {}
    changes = []
    for key in [*before, *(key for key in after if key not in before)]:
        if (
            key == "nodes"
            and isinstance(before.get(key), list)
            and isinstance(after.get(key), list)
        ):
            changes.append(Change("tree", "", tree_difference(before[key], after[key])))
            continue
        if key in SUMMARISED:
            old, new = before.get(key), after.get(key)
            summary = f"{len(new)} listed" if isinstance(new, list) else "kept in the log"
            changes.append(
                Change(field_name(key), "kept in the log" if old else "", summary if new else "")
            )
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue  # unchanged: noise in a list of changes
        if old is None and new is None:
            continue
        changes.append(Change(field_name(key), said(old) if key in before else "", said(new)))
    return changes


def tree_difference(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> str:
    """What an edit did to the nodes: added, removed and changed ones, by id and text."""
    before = {node["id"]: node for node in old}
    after = {node["id"]: node for node in new}
    said_nodes = [f"added {key} “{after[key]['text']}”" for key in after if key not in before]
    said_nodes += [f"removed {key} “{before[key]['text']}”" for key in before if key not in after]
    said_nodes += [f"changed {key}" for key in after if key in before and after[key] != before[key]]
    return "; ".join(said_nodes) or "no node changed"


def readable_events(events: Iterable[AuditEvent]) -> list[ReadableEvent]:
    events = list(events)
    wanted = {event.poll_public_id for event in events if event.poll_public_id}
    titles: dict[str, str] = {}
    if wanted:
        rows = db.session.execute(
            select(Poll.public_id, Poll.title)
            .where(Poll.public_id.in_(sorted(wanted)))
            .order_by(Poll.version)
        )
        titles = {public_id: title for public_id, title in rows}  # the newest version's title
    return [
        ReadableEvent(
            event=event,
            action=ACTION_WORDS.get(event.action, event.action),
            poll_title=titles.get(event.poll_public_id or "")
            or (event.before or {}).get("title")
            or (event.after or {}).get("title"),
            version=(event.after or {}).get("version") or (event.before or {}).get("version"),
            changes=changes_of(event.before, event.after),
        )
        for event in events
    ]


def filter_value(name: str, pattern: str) -> str | None:
    """A filter from the query string, or None when absent or not a possible value."""
    value = request.args.get(name, "")
    return value if re.match(pattern, value) else None


@bp.get("/audit")
@auth.requires(Permission.READ)
def audit_log():
    criteria = AuditFilter(
        poll=filter_value("poll", anchored(PUBLIC_ID)),
        action=filter_value("action", anchored(AUDIT_ACTION)),
        actor=filter_value("actor", anchored(TOKEN_NAME)),
    )
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = audit_events_query(criteria)
    events = page_of(
        db.session, query, offset=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE + 1
    )
    return render_template(
        "admin/audit.html",
        criteria=criteria,
        events=readable_events(events[:AUDIT_PAGE_SIZE]),
        page=page,
        has_older=len(events) > AUDIT_PAGE_SIZE,
        actions=[(str(action), ACTION_WORDS[action]) for action in Action],
    )
