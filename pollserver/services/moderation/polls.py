"""Polls as moderators see them: listed with their counts, moved through their lifecycle, their
settings and schedule changed, drafts discarded and archived polls deleted.

- Lifecycle: only the transitions in ``core.lifecycle.TRANSITIONS``; what the schedule did
  counts first, and reopening clears a passed close time (else the poll would close again at
  once). Opening a version supersedes the earlier ones (``versions``).
- Scheduled times must lie in the future when they are set: a time in the past is refused,
  never applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from pollserver.core import counters
from pollserver.core.definition import definition_warnings
from pollserver.core.lifecycle import PollStatus, effective_status, live_version
from pollserver.core.poll_settings import SETTING_KEYS
from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow
from pollserver.models import Poll, ResultCounter
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.moderation.versions import (
    catch_up_schedule,
    record_status_change,
    refuse_if_replaced,
    supersede_earlier_versions,
)
from pollserver.services.polls import change_status, definition_of, poll_versions


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


def version_summaries(session: Session, public_id: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Every version of a poll, oldest first: its status as readers see it, whether it is the
    one they see, its moments and its readers."""
    versions = poll_versions(session, public_id)
    counts = poll_counts(session, [version.id for version in versions])
    live = live_version(versions, now)
    return [
        {
            "version": version.version,
            "status": effective_status(version, now),
            "live": version is live,
            "opened_at": version.opened_at,
            "closed_at": version.closed_at,
            "superseded_at": version.superseded_at,
            "respondents": counts[version.id].respondents,
        }
        for version in versions
    ]


def effective_status_is(status: PollStatus, now: dt.datetime) -> ColumnElement[bool]:
    """SQL for "the poll's effective status is ``status``" (``core.lifecycle.effective_status``:
    a passed opening time means open, a passed close time closed)."""
    opened = and_(Poll.status == PollStatus.DRAFT, Poll.open_at.is_not(None), Poll.open_at <= now)
    running = or_(Poll.status.in_([PollStatus.OPEN, PollStatus.PAUSED]), opened)
    close_due = and_(Poll.close_at.is_not(None), Poll.close_at <= now)
    if status is PollStatus.CLOSED:
        return or_(Poll.status == PollStatus.CLOSED, and_(running, close_due))
    if status is PollStatus.OPEN:
        return and_(or_(Poll.status == PollStatus.OPEN, opened), ~close_due)
    if status is PollStatus.PAUSED:
        return and_(Poll.status == status, ~close_due)
    if status is PollStatus.DRAFT:
        return and_(Poll.status == status, ~opened)
    return Poll.status == status


def is_newest_version() -> ColumnElement[bool]:
    newer = aliased(Poll)
    return ~exists().where(newer.public_id == Poll.public_id, newer.version > Poll.version)


def polls_query(
    *,
    status: PollStatus | None = None,
    article_id: int | None = None,
    search: str | None = None,
    now: dt.datetime | None = None,
) -> Select[tuple[Poll]]:
    """A poll per public id, at its newest version (its other versions are on its page)."""
    query = select(Poll).where(is_newest_version())
    if status is not None:
        query = query.where(effective_status_is(status, now or utcnow()))
    if article_id is not None:
        query = query.where(Poll.article_id == article_id)
    if search:
        query = query.where(Poll.title.icontains(search, autoescape=True))
    return query.order_by(Poll.updated_at.desc(), Poll.id.desc())


def transition_poll(
    session: Session, poll: Poll, target: PollStatus, actor: str, now: dt.datetime | None = None
) -> None:
    """Move a poll to ``target``; ``core.lifecycle.InvalidTransition`` when that
    is not allowed."""
    now = now or utcnow()
    catch_up_schedule(session, poll, now)
    before = {"status": poll.status, "close_at": poll.close_at}
    if target is PollStatus.OPEN:
        refuse_if_replaced(session, poll, now)
    # Reopening with a close time that has passed would close the poll again at once.
    reopening_past_close = (
        target is PollStatus.OPEN and poll.close_at is not None and poll.close_at <= now
    )
    change_status(poll, target, now)  # InvalidTransition explains what is allowed instead
    if reopening_past_close:
        poll.close_at = None
    if target is PollStatus.OPEN:
        poll.open_at = None  # opened now: a scheduled opening has nothing left to do
    record_status_change(session, actor, poll, before, now, close_at=poll.close_at)
    if target is PollStatus.OPEN:
        supersede_earlier_versions(session, poll, actor, now)


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
    remove_poll(session, poll)


def discard_draft(session: Session, poll: Poll, actor: str, now: dt.datetime | None = None) -> None:
    """Throw a draft away (it never had readers: a preview stores nothing)."""
    now = now or utcnow()
    catch_up_schedule(session, poll, now)
    if poll.status is not PollStatus.DRAFT:
        raise Refused(
            409,
            f"Version {poll.version} of poll {poll.public_id} is {poll.status}, not a draft: "
            "only drafts can be discarded (close and archive a published poll).",
            {"status": str(poll.status)},
        )
    record_audit(
        session,
        actor,
        Action.POLL_DISCARD,
        poll_public_id=poll.public_id,
        before={"title": poll.title, "version": poll.version, "definition": definition_of(poll)},
        now=now,
    )
    remove_poll(session, poll)


def remove_poll(session: Session, poll: Poll) -> None:
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
    catch_up_schedule(session, poll, now)
    refuse_bad_schedule(poll, changes, now)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    settings = dict(poll.settings)
    for key in SETTING_KEYS:
        if key in changes and changes[key] != settings.get(key):
            before[key], after[key] = settings.get(key), changes[key]
            settings[key] = changes[key]
    for key in ("open_at", "close_at"):
        if key in changes and changes[key] != getattr(poll, key):
            before[key], after[key] = getattr(poll, key), changes[key]
            setattr(poll, key, changes[key])
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


def refuse_bad_schedule(poll: Poll, changes: Mapping[str, Any], now: dt.datetime) -> None:
    """A scheduled time must be in the future; an opening, for a draft, before its closing."""
    problems: dict[str, list[str]] = {}
    for key in ("open_at", "close_at"):
        when = changes.get(key)
        if when is not None and when <= now:
            problems[key] = ["is in the past: choose a time still to come"]
    if changes.get("open_at") is not None and poll.status is not PollStatus.DRAFT:
        problems.setdefault("open_at", []).append(
            f"the poll is {poll.status}: only a draft can be scheduled to open"
        )
    open_at = changes.get("open_at", poll.open_at)
    close_at = changes.get("close_at", poll.close_at)
    if open_at is not None and close_at is not None and close_at <= open_at:
        problems.setdefault("close_at", []).append("must come after the opening time")
    if problems:
        raise schedule_refusal(problems)


def schedule_refusal(problems: Mapping[str, list[str]]) -> Refused:
    """The one refusal of a schedule, whatever found its problems (this module, or a form)."""
    names = {"open_at": "opening time", "close_at": "closing time"}
    said = "; ".join(f"the {names[key]} {'; '.join(texts)}" for key, texts in problems.items())
    return Refused(422, f"The schedule was not changed: {said}", fields=problems)


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
            "previous_version": previous.version if previous else None,
            "article": poll.article_id,
        },
        now=now,
    )


def definition_summary(poll: Poll) -> dict[str, Any]:
    """The poll's definition and the warnings an editor may want to look at."""
    definition = definition_of(poll)
    return {"definition": definition, "warnings": definition_warnings(definition)}
