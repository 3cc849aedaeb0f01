"""Where spikes show: answers per hour, and the respondents behind an hour grouped by their
daily address hash (never the address itself)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.orm import Session

from pollserver.models import Answer, Poll, Respondent
from pollserver.services.moderation.responses import ResponseSelection


def hour_of(column: Any, dialect: str) -> ColumnElement[str]:
    """SQL for the UTC hour a timestamp falls in, as "2025-01-31T14:00:00Z"."""
    # Literal formats (not bound parameters) so GROUP BY sees the same expression as SELECT.
    if dialect == "postgresql":
        return func.to_char(
            func.timezone(literal_column("'UTC'"), column),
            literal_column('\'YYYY-MM-DD"T"HH24":00:00Z"\''),
        )
    return func.strftime(literal_column("'%Y-%m-%dT%H:00:00Z'"), column)


@dataclass(frozen=True)
class HourActivity:
    hour: str  # start of the hour, UTC
    answers: int
    hidden_answers: int  # answers by respondents now hidden
    respondents_started: int


def answers_per_hour(
    session: Session,
    poll: Poll,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[HourActivity]:
    """Answers (and new respondents) per hour, hidden ones counted apart: spikes stand out."""
    dialect = session.get_bind().dialect.name
    answer_hour = hour_of(Answer.answered_at, dialect).label("hour")
    answers = (
        select(
            answer_hour,
            func.count(Answer.id),
            func.sum(case((Respondent.hidden.is_(True), 1), else_=0)),
        )
        .join(Respondent, Respondent.id == Answer.respondent_id)
        .where(Answer.poll_id == poll.id)
    )
    started_hour = hour_of(Respondent.started_at, dialect).label("hour")
    started = select(started_hour, func.count(Respondent.id)).where(Respondent.poll_id == poll.id)
    if since is not None:
        answers = answers.where(Answer.answered_at >= since)
        started = started.where(Respondent.started_at >= since)
    if until is not None:
        answers = answers.where(Answer.answered_at < until)
        started = started.where(Respondent.started_at < until)
    by_hour: dict[str, list[int]] = {}
    for hour, count, hidden in session.execute(answers.group_by("hour")):
        by_hour.setdefault(hour, [0, 0, 0])[:2] = [int(count), int(hidden or 0)]
    for hour, count in session.execute(started.group_by("hour")):
        by_hour.setdefault(hour, [0, 0, 0])[2] = int(count)
    return [
        HourActivity(
            hour, answers=values[0], hidden_answers=values[1], respondents_started=values[2]
        )
        for hour, values in sorted(by_hour.items())
    ]


@dataclass(frozen=True)
class AddressGroup:
    """Respondents who share one daily address hash (never the address itself)."""

    address_hash: str | None
    respondents: int
    hidden: int
    finished: int
    first_started: dt.datetime
    last_started: dt.datetime


def respondents_by_address(
    session: Session,
    poll: Poll,
    *,
    started_from: dt.datetime | None = None,
    started_until: dt.datetime | None = None,
    limit: int = 50,
) -> list[AddressGroup]:
    """The respondents behind a spike, grouped by address hash, biggest group first."""
    selection = ResponseSelection(started_from=started_from, started_until=started_until)
    respondents = func.count(Respondent.id)
    rows = session.execute(
        select(
            Respondent.address_hash,
            respondents,
            func.sum(case((Respondent.hidden.is_(True), 1), else_=0)),
            func.count(Respondent.finished_at),
            func.min(Respondent.started_at),
            func.max(Respondent.started_at),
        )
        .where(Respondent.poll_id == poll.id, *selection.conditions())
        .group_by(Respondent.address_hash)
        .order_by(respondents.desc(), Respondent.address_hash)
        .limit(limit)
    )
    return [
        AddressGroup(
            address_hash=address_hash,
            respondents=int(count),
            hidden=int(hidden or 0),
            finished=int(finished),
            first_started=first,
            last_started=last,
        )
        for address_hash, count, hidden, finished, first, last in rows
    ]
