"""Recording a reader's answer: the rules of a walk, idempotent retries, changes, and the tallies.

Plain Python over a SQLAlchemy ``Session``; the caller owns the transaction (and, on SQLite,
begins it as a writer). Every refusal is an :class:`AnswerRefused` carrying the HTTP status the
API gives it, so the view stays a thin translation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pollserver import tally
from pollserver.models import Answer, AnswerValue, Poll, PollStatus, Respondent
from pollserver.polls import effective_status
from pollserver.privacy import hash_token, new_respondent_token
from pollserver.tree import PollTree, Walk


class AnswerRefused(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after


def seconds_until_next_utc_day(now: dt.datetime) -> int:
    """When the daily cap lifts: the address hash (and its count) start afresh at UTC midnight."""
    tomorrow = (now.astimezone(dt.UTC) + dt.timedelta(days=1)).date()
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.UTC)
    return max(1, int((midnight - now).total_seconds()))


@dataclass
class RecordedAnswer:
    token: str | None  # set for a new respondent: the only time the token exists in clear
    respondent: Respondent
    walk: Walk
    created_respondent: bool
    stored: bool  # False for a retried request that changed nothing
    kind: str = "retry"  # what was stored: "new_reader", "next" or "changed"


def respondent_walk(tree: PollTree, respondent: Respondent) -> Walk:
    return tree.walk({answer.node_key: str(answer.value) for answer in respondent.answers})


def refuse_unless_accepting(poll: Poll, now: dt.datetime) -> None:
    # A scheduled close counts from its time on; the status column catches up when a moderator
    # next touches the poll (writing it here would upgrade the answer's shared lock on the poll).
    status = effective_status(poll, now)
    if status is PollStatus.PAUSED:
        raise AnswerRefused(
            409, "This poll is paused: it is not taking answers right now.", {"status": "paused"}
        )
    if status is PollStatus.CLOSED:
        raise AnswerRefused(
            409, "This poll is closed: it takes no more answers.", {"status": "closed"}
        )
    if status is not PollStatus.OPEN:
        raise AnswerRefused(404, "No such poll.")


def find_respondent(session: Session, poll: Poll, token: str, *, for_update: bool) -> Respondent:
    query = select(Respondent).where(
        Respondent.token_hash == hash_token(token), Respondent.poll_id == poll.id
    )
    if for_update:
        # Serialises concurrent requests for one reader on PostgreSQL (SQLite's write lock does).
        query = query.with_for_update()
    respondent = session.scalar(query)
    if respondent is None:
        raise AnswerRefused(
            422,
            "This respondent token is not known for this poll; start again without one.",
            {"respondent": ["unknown token for this poll"]},
        )
    return respondent


def count_todays_respondents(session: Session, poll: Poll, address_hash: str) -> int:
    # The address hash changes with the daily salt, so equal hashes are the same address today.
    return session.scalar(
        select(func.count())
        .select_from(Respondent)
        .where(Respondent.poll_id == poll.id, Respondent.address_hash == address_hash)
    )


def record_answer(
    session: Session,
    poll: Poll,
    tree: PollTree,
    *,
    token: str | None,
    node_key: str,
    answer: str,
    address_hash: str,
    respondents_per_address: int,
    now: dt.datetime,
) -> RecordedAnswer:
    refuse_unless_accepting(poll, now)
    if not tree.is_question(node_key):
        raise AnswerRefused(
            422,
            f"Node {node_key!r} is not a question of this poll.",
            {"node": [f"not a question of this poll: {node_key!r}"]},
        )

    created = token is None
    if created:
        if node_key != tree.root:
            raise AnswerRefused(
                409,
                f"A new reader starts at question {tree.root!r}, not {node_key!r}.",
                {"expected": tree.root},
            )
        if session.get_bind().dialect.name == "postgresql":
            # Count-then-insert must not run twice at once for one address and poll, or parallel
            # new readers would all pass the cap; SQLite's single writer already serialises it.
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"new-reader:{poll.id}:{address_hash}"},
            )
        if count_todays_respondents(session, poll, address_hash) >= respondents_per_address:
            raise AnswerRefused(
                429,
                "Too many new readers from your network have started this poll today; "
                "try again tomorrow.",
                {"limit": f"{respondents_per_address} new readers per address per poll per day"},
                retry_after=seconds_until_next_utc_day(now),
            )
        token = new_respondent_token()
        respondent = Respondent(
            poll_id=poll.id,
            token_hash=hash_token(token),
            address_hash=address_hash,
            started_at=now,
            current_node_key=tree.root,
            answers=[],  # known empty: spares a lazy load of a new reader's answers
        )
        session.add(respondent)
        session.flush()
        old_walk = None
    else:
        respondent = find_respondent(session, poll, token, for_update=True)
        old_walk = respondent_walk(tree, respondent)

    existing = {row.node_key: row for row in respondent.answers}
    previous = existing.get(node_key)
    if previous is not None and str(previous.value) == answer:
        # A retried request: the same answer again counts nothing twice.
        return RecordedAnswer(None, respondent, old_walk, created_respondent=False, stored=False)

    old_counts = (
        tally.walk_contributions(old_walk, [row.answered_at for row in respondent.answers])
        if old_walk is not None and not respondent.hidden
        else tally.Counter()
    )

    if previous is not None:
        if not poll.settings.get("allow_answer_changes"):
            raise AnswerRefused(
                409,
                f"You already answered {previous.value} to {node_key!r}; "
                "this poll does not allow changing answers.",
                {"node": node_key, "answer": str(previous.value)},
            )
        # Changing an answer replaces it and everything below it on the reader's path.
        for key in [node_key, *old_walk.keys_below(node_key)]:
            row = existing.pop(key)
            respondent.answers.remove(row)
            session.delete(row)
        session.flush()
    elif old_walk is not None and node_key != old_walk.current:
        if old_walk.current is None:
            message = "Your path through this poll has ended; there is nothing more to answer."
        else:
            message = f"The next question for you is {old_walk.current!r}, not {node_key!r}."
        raise AnswerRefused(409, message, {"expected": old_walk.current})

    respondent.answers.append(
        Answer(poll_id=poll.id, node_key=node_key, value=AnswerValue(answer), answered_at=now)
    )
    new_walk = respondent_walk(tree, respondent)
    respondent.current_node_key = new_walk.current
    respondent.finished_at = (respondent.finished_at or now) if new_walk.finished else None

    if not respondent.hidden:
        new_counts = tally.walk_contributions(
            new_walk, [row.answered_at for row in respondent.answers]
        )
        tally.apply_counts(session, poll.id, tally.difference(new_counts, old_counts))
    session.flush()
    kind = "new_reader" if created else ("changed" if previous is not None else "next")
    return RecordedAnswer(
        token if created else None,
        respondent,
        new_walk,
        created_respondent=created,
        stored=True,
        kind=kind,
    )
