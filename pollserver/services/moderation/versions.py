"""A poll's versions under one public id, and the openings and closings its schedule makes.

- Opening a version closes the earlier versions readers could still answer: they are
  *superseded*, and a reader part-way through one may still finish it. A version older than
  the one readers see cannot be opened again.
- A scheduled opening or closing counts for readers from its moment on (``core.lifecycle``).
  The stored status catches up, with an audit record dated at that moment, the next time the
  desk, the admin API or the CLI looks (:func:`catch_up_schedules`): no job has to run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from pollserver.core.lifecycle import PollStatus, live_version
from pollserver.core.refusals import Refused
from pollserver.models import Poll
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.polls import change_status

SCHEDULE_ACTOR = "schedule"  # how the audit log names what a scheduled time did

RUNNING = (PollStatus.OPEN, PollStatus.PAUSED)


def newer_published_version(session: Session, poll: Poll, now: dt.datetime) -> Poll | None:
    newer = session.scalars(
        select(Poll).where(Poll.public_id == poll.public_id, Poll.version > poll.version)
    )
    return live_version(newer, now)


def refuse_if_replaced(session: Session, poll: Poll, now: dt.datetime) -> None:
    newer = newer_published_version(session, poll, now)
    if newer is not None:
        raise Refused(
            409,
            f"Version {poll.version} of poll {poll.public_id} was replaced by version "
            f"{newer.version}, which readers see now; it cannot be opened again.",
            {"version": poll.version, "live_version": newer.version},
        )


def supersede_earlier_versions(session: Session, poll: Poll, actor: str, now: dt.datetime) -> None:
    """Close the versions before ``poll`` that readers could still answer (``poll`` opened)."""
    earlier = session.scalars(
        select(Poll)
        .where(
            Poll.public_id == poll.public_id,
            Poll.version < poll.version,
            Poll.status.in_(RUNNING),
        )
        .order_by(Poll.version.desc())  # newest first, as every path that locks versions
        .with_for_update()
    )
    for old in earlier:
        if old.close_at is not None and old.close_at <= now:
            catch_up_schedule(session, old, now)  # it had closed by itself before
            continue
        before = {"status": old.status}
        was_open = old.status is PollStatus.OPEN
        change_status(old, PollStatus.CLOSED, now)
        if was_open:  # its readers may finish it; a paused one's may not start again
            old.superseded_at = now
        record_status_change(session, actor, old, before, now, superseded_by=poll.version)


def catch_up_schedule(session: Session, poll: Poll, now: dt.datetime) -> None:
    """Store what the poll's scheduled opening and closing did up to ``now``, each audited at
    its own moment."""
    if poll.status is PollStatus.DRAFT and poll.open_at is not None and poll.open_at <= now:
        opened_at = poll.open_at
        change_status(poll, PollStatus.OPEN, opened_at)
        poll.open_at = None  # done: opened_at keeps the moment
        before = {"status": PollStatus.DRAFT}
        record_status_change(session, SCHEDULE_ACTOR, poll, before, opened_at, scheduled=True)
        supersede_earlier_versions(session, poll, SCHEDULE_ACTOR, opened_at)
    if poll.status in RUNNING and poll.close_at is not None and poll.close_at <= now:
        before, closed_at = {"status": poll.status}, poll.close_at
        change_status(poll, PollStatus.CLOSED, closed_at)
        record_status_change(session, SCHEDULE_ACTOR, poll, before, closed_at, scheduled=True)


def record_status_change(
    session: Session,
    actor: str,
    poll: Poll,
    before: dict[str, Any],
    at: dt.datetime,
    **after: Any,
) -> None:
    """The audit record of a version's status change: by whom (or by its schedule), when, from
    what, and anything the change brought with it."""
    record_audit(
        session,
        actor,
        Action.POLL_STATUS,
        poll_public_id=poll.public_id,
        before={"version": poll.version, **before},
        after={"version": poll.version, "status": poll.status, **after},
        now=at,
    )


def due_schedules(now: dt.datetime):
    """SQL for "the poll's schedule has done something its stored status does not show"."""
    return or_(
        and_(Poll.status == PollStatus.DRAFT, Poll.open_at.is_not(None), Poll.open_at <= now),
        and_(Poll.status.in_(RUNNING), Poll.close_at.is_not(None), Poll.close_at <= now),
    )


def schedules_due(session: Session, now: dt.datetime) -> bool:
    return bool(session.scalar(select(exists().where(due_schedules(now)))))


def catch_up_schedules(session: Session, now: dt.datetime) -> int:
    """:func:`catch_up_schedule` for every poll that needs it, oldest version first; how many."""
    due = list(
        session.scalars(
            select(Poll)
            .where(due_schedules(now))
            .order_by(Poll.public_id, Poll.version.desc())  # the answer path's lock order
            .with_for_update()
        )
    )
    for poll in sorted(due, key=lambda poll: (poll.public_id, poll.version)):
        catch_up_schedule(session, poll, now)  # oldest first: a later opening supersedes it
    return len(due)


def live_versions(
    session: Session, public_ids: Iterable[str], now: dt.datetime
) -> dict[str, int | None]:
    """For each public id, the version readers see now (None: none is published)."""
    wanted = sorted(set(public_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Poll.public_id, Poll.version, Poll.status, Poll.open_at, Poll.close_at).where(
            Poll.public_id.in_(wanted)
        )
    ).all()
    by_id: dict[str, list[Any]] = {public_id: [] for public_id in wanted}
    for row in rows:
        by_id[row.public_id].append(row)
    result: dict[str, int | None] = {}
    for public_id, versions in by_id.items():
        live = live_version(versions, now)
        result[public_id] = live.version if live is not None else None
    return result
