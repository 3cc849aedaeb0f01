"""Running result counts, kept in the same transaction as the answers they count.

What one reader's walk counts for is a small multiset of counter names (see
:func:`walk_contributions`); any change to a reader (an answer, a changed answer, hiding,
restoring) adds the new multiset and subtracts the old. Each transaction writes to one of a few
shards picked at random, so concurrent writers rarely wait on the same row, and reading sums the
shards: the cost of a read depends on the tree, never on the number of answers.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pollserver.models import ResultCounter
from pollserver.tree import Walk

SHARDS = 8

STARTED = "started"
FINISHED = "finished"


def reached(key: str) -> str:
    return f"reached:{key}"


def answered(key: str, answer: str) -> str:
    return f"{answer}:{key}"


def path(code: str) -> str:
    return f"path:{code}"


def hour(moment: dt.datetime) -> str:
    return f"hour:{moment.astimezone(dt.UTC):%Y-%m-%dT%H}"


def walk_contributions(walk: Walk, answer_times: Iterable[dt.datetime] = ()) -> Counter[str]:
    """Everything one reader's walk adds to the tallies."""
    counts: Counter[str] = Counter({STARTED: 1})
    for key, answer in walk.path:
        counts[reached(key)] += 1
        counts[answered(key, answer)] += 1
    if walk.current is not None:
        counts[reached(walk.current)] += 1
    if walk.finished:
        counts[FINISHED] += 1
        counts[path(walk.path_code)] += 1
        for key in walk.outcomes:
            counts[reached(key)] += 1
    for moment in answer_times:
        counts[hour(moment)] += 1
    return counts


def difference(new: Counter[str], old: Counter[str]) -> dict[str, int]:
    keys = set(new) | set(old)
    return {key: new[key] - old[key] for key in keys if new[key] != old[key]}


def apply_counts(session: Session, poll_id: int, deltas: dict[str, int]) -> None:
    """Add ``deltas`` to the poll's counters (one upsert, rows in a fixed order: no deadlocks)."""
    if not deltas:
        return
    shard = random.randrange(SHARDS)
    rows = [
        {"poll_id": poll_id, "counter": key, "shard": shard, "value": deltas[key]}
        for key in sorted(deltas)
    ]
    # One statement executed for many rows: compiled once per process, not once per answer.
    session.execute(_upsert_statement(session.get_bind().dialect.name), rows)


@functools.cache
def _upsert_statement(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ResultCounter)
    return statement.on_conflict_do_update(
        index_elements=["poll_id", "counter", "shard"],
        set_={"value": ResultCounter.value + statement.excluded.value},
    )


def read_counts(session: Session, poll_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ResultCounter.counter, func.sum(ResultCounter.value))
        .where(ResultCounter.poll_id == poll_id)
        .group_by(ResultCounter.counter)
    )
    return {counter: int(total) for counter, total in rows if total}
