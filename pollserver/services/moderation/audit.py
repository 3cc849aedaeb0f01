"""The audit log: one append-only event per change a moderator, an editor or the CLI makes."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pollserver.core.timestamps import iso, utcnow
from pollserver.models import AuditEvent

CLI_ACTOR = "cli"  # how the audit log names changes made from the command line


class Action(enum.StrEnum):
    """What an audit event records."""

    ARTICLE_SUBMIT = "article.submit"
    ARTICLE_DELETE = "article.delete"
    POLL_CREATE = "poll.create"
    POLL_STATUS = "poll.status"
    POLL_SETTINGS = "poll.settings"
    POLL_TEXT_FIX = "poll.text_fix"
    POLL_DEFINITION = "poll.definition"
    POLL_DELETE = "poll.delete"
    POLL_DISCARD = "poll.discard"
    RESPONSES_HIDE = "responses.hide"
    RESPONSES_RESTORE = "responses.restore"
    RESPONSES_EXPORT = "responses.export"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    AUTH_REFUSED = "auth.refused"  # a token presented and refused (by the address's pseudonym)


# Who a refused sign-in or token was: nobody the service knows.
ANONYMOUS_ACTOR = "(refused token)"


def jsonable(value: Any) -> Any:
    """``value`` with datetimes and enums as JSON-friendly strings (audit before/after)."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def record_audit(
    session: Session,
    actor: str,
    action: Action,
    *,
    poll_public_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event. There is no function to change or remove one, by design."""
    event = AuditEvent(
        actor=actor,
        action=str(action),
        poll_public_id=poll_public_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        created_at=now or utcnow(),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    poll: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def audit_events_query(criteria: AuditFilter) -> Select[tuple[AuditEvent]]:
    """Matching events, newest first. ``action`` ending in "." matches a family ("responses.")."""
    query = select(AuditEvent)
    if criteria.poll:
        query = query.where(AuditEvent.poll_public_id == criteria.poll)
    if criteria.action:
        if criteria.action.endswith("."):
            query = query.where(AuditEvent.action.startswith(criteria.action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == criteria.action)
    if criteria.actor:
        query = query.where(AuditEvent.actor == criteria.actor)
    if criteria.since:
        query = query.where(AuditEvent.created_at >= criteria.since)
    if criteria.until:
        query = query.where(AuditEvent.created_at < criteria.until)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
