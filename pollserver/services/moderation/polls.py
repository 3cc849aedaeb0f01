"""Polls as moderators see them: listed with their counts, moved through their lifecycle, their
settings changed, and (archived ones only) deleted.

- Lifecycle: only the transitions in ``core.lifecycle.TRANSITIONS``; a close time that has
  passed counts first, and reopening clears it (else the poll would close again at once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from pollserver.core import counters
from pollserver.core.definition import definition_warnings
from pollserver.core.lifecycle import PollStatus, effective_status
from pollserver.core.poll_settings import SETTING_KEYS
from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow
from pollserver.models import Poll, ResultCounter
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.polls import change_status, close_if_due, definition_of


@dataclass(frozen=True)
class PollCounts:
    respondents: int = 0  # visible readers who started
    finished: int = 0  # visible readers who reached the end of a path
    hidden: int = 0  # readers hidden by moderation


def poll_counts(session: Session, poll_ids: Sequence[int]) -> dict[int, PollCounts]:
    """Counts for many polls from the running tallies: one query, no row counting."""
    if not poll_ids:
        return {}
    wanted = (counters.STARTED, counters.FINISHED, counters.HIDDEN_RESPONDENTS)
    rows = session.execute(
        select(ResultCounter.poll_id, ResultCounter.counter, func.sum(ResultCounter.value))
        .where(ResultCounter.poll_id.in_(poll_ids), ResultCounter.counter.in_(wanted))
        .group_by(ResultCounter.poll_id, ResultCounter.counter)
    )
    values: dict[int, dict[str, int]] = {poll_id: {} for poll_id in poll_ids}
    for poll_id, counter, total in rows:
        values[poll_id][counter] = int(total or 0)
    return {
        poll_id: PollCounts(
            respondents=found.get(counters.STARTED, 0),
            finished=found.get(counters.FINISHED, 0),
            hidden=found.get(counters.HIDDEN_RESPONDENTS, 0),
        )
        for poll_id, found in values.items()
    }


def effective_status_is(status: PollStatus, now: dt.datetime) -> ColumnElement[bool]:
    """SQL for "the poll's effective status is ``status``" (a passed close time means closed)."""
    running = Poll.status.in_([PollStatus.OPEN, PollStatus.PAUSED])
    due = and_(running, Poll.close_at.is_not(None), Poll.close_at <= now)
    if status is PollStatus.CLOSED:
        return or_(Poll.status == PollStatus.CLOSED, due)
    if status in (PollStatus.OPEN, PollStatus.PAUSED):
        return and_(Poll.status == status, or_(Poll.close_at.is_(None), Poll.close_at > now))
    return Poll.status == status


def polls_query(
    *,
    status: PollStatus | None = None,
    article_id: int | None = None,
    search: str | None = None,
    now: dt.datetime | None = None,
) -> Select[tuple[Poll]]:
    query = select(Poll)
    if status is not None:
        query = query.where(effective_status_is(status, now or utcnow()))
    if article_id is not None:
        query = query.where(Poll.article_id == article_id)
    if search:
        query = query.where(Poll.title.icontains(search, autoescape=True))
    return query.order_by(Poll.updated_at.desc(), Poll.id.desc())


def later_versions(session: Session, poll: Poll) -> list[Poll]:
    return list(
        session.scalars(
            select(Poll).where(Poll.previous_version_id == poll.id).order_by(Poll.version)
        )
    )


def transition_poll(
    session: Session, poll: Poll, target: PollStatus, actor: str, now: dt.datetime | None = None
) -> None:
    """Move a poll to ``target``; ``core.lifecycle.InvalidTransition`` when that
    is not allowed."""
    now = now or utcnow()
    before = {"status": effective_status(poll, now), "close_at": poll.close_at}
    close_if_due(poll, now)
    # Reopening with a close time that has passed would close the poll again at once.
    reopening_past_close = (
        target is PollStatus.OPEN and poll.close_at is not None and poll.close_at <= now
    )
    change_status(poll, target, now)  # InvalidTransition explains what is allowed instead
    if reopening_past_close:
        poll.close_at = None
    record_audit(
        session,
        actor,
        Action.POLL_STATUS,
        poll_public_id=poll.public_id,
        before=before,
        after={"status": poll.status, "close_at": poll.close_at},
        now=now,
    )


def refuse_if_archived(poll: Poll) -> None:
    if poll.status is PollStatus.ARCHIVED:
        raise Refused(
            409,
            f"Poll {poll.public_id} is archived: it can no longer be edited.",
            {"status": "archived"},
        )


def delete_archived_poll(
    session: Session, poll: Poll, actor: str, now: dt.datetime | None = None
) -> None:
    """Delete a poll with all its responses and tallies; only archived polls may go."""
    if poll.status is not PollStatus.ARCHIVED:
        raise Refused(
            409,
            f"Poll {poll.public_id} is {poll.status}: only archived polls can be deleted "
            "(close it, then archive it).",
            {"status": str(poll.status)},
        )
    counts = poll_counts(session, [poll.id])[poll.id]
    record_audit(
        session,
        actor,
        Action.POLL_DELETE,
        poll_public_id=poll.public_id,
        before={
            "title": poll.title,
            "status": poll.status,
            "version": poll.version,
            "respondents": counts.respondents,
            "hidden": counts.hidden,
        },
        now=now,
    )
    article = poll.article
    # Respondents, answers and tallies go with it through ON DELETE CASCADE.
    session.delete(poll)
    session.flush()
    if article is not None and not session.scalar(
        select(func.count()).select_from(Poll).where(Poll.article_id == article.id)
    ):
        article.needs_poll = True  # back on the list of articles waiting for a poll


def update_settings(
    session: Session,
    poll: Poll,
    changes: Mapping[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Change widget settings and the close time; returns what changed (allowed once answered)."""
    now = now or utcnow()
    refuse_if_archived(poll)
    # A close time that already passed has closed the poll: moving it later does not reopen it.
    close_if_due(poll, now)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    settings = dict(poll.settings)
    for key in SETTING_KEYS:
        if key in changes and changes[key] != settings.get(key):
            before[key], after[key] = settings.get(key), changes[key]
            settings[key] = changes[key]
    if "close_at" in changes and changes["close_at"] != poll.close_at:
        before["close_at"], after["close_at"] = poll.close_at, changes["close_at"]
        poll.close_at = changes["close_at"]
    if after:
        poll.settings = settings  # a new dict: the JSON column does not track mutation
        poll.updated_at = now
        record_audit(
            session,
            actor,
            Action.POLL_SETTINGS,
            poll_public_id=poll.public_id,
            before=before,
            after=after,
            now=now,
        )
    return after


def record_poll_created(
    session: Session, poll: Poll, actor: str, now: dt.datetime | None = None
) -> None:
    previous = session.get(Poll, poll.previous_version_id) if poll.previous_version_id else None
    record_audit(
        session,
        actor,
        Action.POLL_CREATE,
        poll_public_id=poll.public_id,
        after={
            "title": poll.title,
            "version": poll.version,
            "previous_version": previous.public_id if previous else None,
            "article": poll.article_id,
        },
        now=now,
    )


def definition_summary(poll: Poll) -> dict[str, Any]:
    """The poll's definition and the warnings an editor may want to look at."""
    definition = definition_of(poll)
    return {"definition": definition, "warnings": definition_warnings(definition)}
