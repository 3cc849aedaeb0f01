"""Hiding and restoring responses, and the respondent records that listings and exports show.

Nothing is deleted: hiding subtracts each respondent's whole walk from the running tallies and
restoring adds it back, in the same transaction as the flag.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, selectinload

from pollserver.core import counters
from pollserver.core.timestamps import iso, utcnow
from pollserver.core.tree import PollTree
from pollserver.models import Answer, Poll, Respondent
from pollserver.services import tallies
from pollserver.services.answering import respondent_walk
from pollserver.services.listing import count_rows
from pollserver.services.moderation.audit import Action, record_audit

HIDE_BATCH = 500  # respondents locked and adjusted per round trip
EXPORT_BATCH = 2000  # rows fetched per round trip while streaming
AUDIT_IDS_KEPT = 200  # respondent ids listed in one audit event; the selection says the rest


@dataclass(frozen=True)
class ResponseSelection:
    """Which respondents of a poll to act on; every criterion given must hold.

    ``started_from``/``started_until`` is a half-open window on when the respondent started.
    """

    respondent_ids: tuple[int, ...] = ()
    address_hash: str | None = None
    started_from: dt.datetime | None = None
    started_until: dt.datetime | None = None

    def is_empty(self) -> bool:
        return not (
            self.respondent_ids or self.address_hash or self.started_from or self.started_until
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.respondent_ids:
            conditions.append(Respondent.id.in_(self.respondent_ids))
        if self.address_hash:
            conditions.append(Respondent.address_hash == self.address_hash)
        if self.started_from:
            conditions.append(Respondent.started_at >= self.started_from)
        if self.started_until:
            conditions.append(Respondent.started_at < self.started_until)
        return conditions

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {}
        if self.respondent_ids:
            described["respondents"] = list(self.respondent_ids)
        if self.address_hash:
            described["address_hash"] = self.address_hash
        if self.started_from:
            described["started_from"] = iso(self.started_from)
        if self.started_until:
            described["started_until"] = iso(self.started_until)
        return described


@dataclass
class ModerationOutcome:
    matched: int  # respondents the selection names
    changed: int  # of those, how many were not already hidden (or visible)
    respondent_ids: list[int] = field(default_factory=list)


def set_responses_hidden(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection,
    *,
    hidden: bool,
    now: dt.datetime,
) -> ModerationOutcome:
    """Hide (or restore) the selected respondents and take their walks out of (or back into)
    the tallies, in the caller's transaction. Respondents already so are skipped."""
    if selection.is_empty():
        raise ValueError("an empty selection would act on every respondent of the poll")
    sign = -1 if hidden else 1
    base = select(Respondent).where(Respondent.poll_id == poll.id, *selection.conditions())
    matched = count_rows(session, base)
    deltas: Counter[str] = Counter()
    changed_ids: list[int] = []
    last_id = 0
    while True:
        # Locked so an answer arriving for one of them waits, then sees the new flag.
        batch = list(
            session.scalars(
                base.where(Respondent.hidden.is_(not hidden), Respondent.id > last_id)
                .order_by(Respondent.id)
                .limit(HIDE_BATCH)
                .options(selectinload(Respondent.answers))
                .with_for_update(of=Respondent)
            )
        )
        if not batch:
            break
        for respondent in batch:
            walk = respondent_walk(tree, respondent)
            times = [answer.answered_at for answer in respondent.answers]
            for counter, value in counters.walk_contributions(walk, times).items():
                deltas[counter] += sign * value
            respondent.hidden = hidden
            respondent.hidden_at = now if hidden else None
            changed_ids.append(respondent.id)
        last_id = batch[-1].id
        session.flush()
        for respondent in batch:  # keep the identity map small on big spikes
            session.expunge(respondent)
    if changed_ids:
        deltas[counters.HIDDEN_RESPONDENTS] += len(changed_ids) if hidden else -len(changed_ids)
    tallies.apply_counts(session, poll.id, {key: value for key, value in deltas.items() if value})
    return ModerationOutcome(matched=matched, changed=len(changed_ids), respondent_ids=changed_ids)


def moderate_responses(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection,
    *,
    hidden: bool,
    actor: str,
    now: dt.datetime | None = None,
) -> ModerationOutcome:
    """Hide or restore responses and record it in the audit log."""
    now = now or utcnow()
    outcome = set_responses_hidden(session, poll, tree, selection, hidden=hidden, now=now)
    record_audit(
        session,
        actor,
        Action.RESPONSES_HIDE if hidden else Action.RESPONSES_RESTORE,
        poll_public_id=poll.public_id,
        before={"hidden": not hidden},
        after={
            "hidden": hidden,
            "selection": selection.describe(),
            "matched": outcome.matched,
            "changed": outcome.changed,
            "respondents": outcome.respondent_ids[:AUDIT_IDS_KEPT],
        },
        now=now,
    )
    return outcome


@dataclass(frozen=True)
class ResponseRecord:
    """One respondent's walk, as exports and the respondent listing show it."""

    respondent: int  # a pseudonym: the row id, unrelated to the reader's token or address
    started_at: dt.datetime
    finished_at: dt.datetime | None
    path: list[tuple[str, str]]
    outcome: list[str]
    hidden: bool
    address_hash: str | None


def response_records(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection | None = None,
    *,
    respondent_ids: Iterable[int] | None = None,
) -> Iterator[ResponseRecord]:
    """Respondents of a poll with their walks, streamed in id order.

    Rows come ``EXPORT_BATCH`` at a time (a server-side cursor on PostgreSQL) as plain tuples,
    one respondent is assembled at a time, and nothing is kept: memory stays flat at any size.
    """
    query = (
        select(
            Respondent.id,
            Respondent.started_at,
            Respondent.finished_at,
            Respondent.hidden,
            Respondent.address_hash,
            Answer.node_key,
            Answer.value,
        )
        .outerjoin(Answer, Answer.respondent_id == Respondent.id)
        .where(Respondent.poll_id == poll.id)
        .order_by(Respondent.id, Answer.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    if selection is not None:
        query = query.where(*selection.conditions())
    if respondent_ids is not None:
        query = query.where(Respondent.id.in_(list(respondent_ids)))
    rows = session.execute(query)
    for respondent_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        answers: dict[str, str] = {}
        for row in group:
            first = row
            if row.node_key is not None:
                answers[row.node_key] = str(row.value)
        walk = tree.walk(answers)
        yield ResponseRecord(
            respondent=respondent_id,
            started_at=first.started_at,
            finished_at=first.finished_at,
            path=walk.path,
            outcome=walk.outcomes,
            hidden=bool(first.hidden),
            address_hash=first.address_hash,
        )


def respondents_query(poll: Poll, selection: ResponseSelection, hidden: bool | None) -> Select:
    query = select(Respondent.id).where(Respondent.poll_id == poll.id, *selection.conditions())
    if hidden is not None:
        query = query.where(Respondent.hidden.is_(hidden))
    return query.order_by(Respondent.id)


@dataclass(frozen=True)
class PathTaken:
    """How many of a selection of respondents walked one path to one outcome."""

    path: tuple[tuple[str, str], ...]
    outcome: tuple[str, ...]
    respondents: int


def paths_taken(
    session: Session, poll: Poll, tree: PollTree, selection: ResponseSelection
) -> list[PathTaken]:
    """The paths and outcomes of the selected respondents, most walked first: what hiding them
    would take out of the results."""
    walked = Counter(
        (tuple(record.path), tuple(record.outcome))
        for record in response_records(session, poll, tree, selection)
    )
    return [
        PathTaken(path, outcome, respondents)
        for (path, outcome), respondents in sorted(walked.items(), key=lambda item: -item[1])
    ]
