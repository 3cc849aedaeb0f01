"""Running result counts, kept in the same transaction as the answers they count.

What each reader adds to them is ``pollserver.core.counters``' business. Each transaction writes
to one of a few shards picked at random, so concurrent writers rarely wait on the same row, and
reading sums the shards: the cost of a read depends on the tree, never on the number of answers.
"""

from __future__ import annotations

import functools
import random
import time
from typing import NamedTuple

from sqlalchemy import BigInteger, Connection, Integer, String, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, scoped_session

from pollserver.models import ResultCounter

SHARDS = 8


def apply_counts(
    executor: Connection | Session | scoped_session, poll_id: int, deltas: dict[str, int]
) -> None:
    """Add ``deltas`` to the poll's counters (one upsert, rows in a fixed order: no deadlocks)."""
    if not deltas:
        return
    shard = random.randrange(SHARDS)
    counters = sorted(deltas)
    connection = connection_of(executor)
    if connection.dialect.name == "postgresql":
        # One statement whatever the number of rows: the rows travel as four arrays.
        connection.execute(
            _postgresql_upsert(),
            {
                "poll_ids": [poll_id] * len(counters),
                "counters": counters,
                "shards": [shard] * len(counters),
                "values": [deltas[counter] for counter in counters],
            },
        )
    else:
        # sqlite3 runs executemany in C, in-process: no round trips to save.
        rows = [
            {"poll_id": poll_id, "counter": counter, "shard": shard, "value": deltas[counter]}
            for counter in counters
        ]
        connection.execute(_sqlite_upsert(), rows)


def connection_of(executor: Connection | Session | scoped_session) -> Connection:
    """The Core connection to run on: the given one, or the session's (in its transaction)."""
    return executor if isinstance(executor, Connection) else executor.connection()


# Core statements on the table, not the ORM's bulk-insert path (which cost more than the write),
# built and compiled once per process.
_counters = ResultCounter.__table__


@functools.cache
def _postgresql_upsert():
    rows = (
        func.unnest(
            bindparam("poll_ids", type_=postgresql.ARRAY(Integer)),
            bindparam("counters", type_=postgresql.ARRAY(String)),
            bindparam("shards", type_=postgresql.ARRAY(Integer)),
            bindparam("values", type_=postgresql.ARRAY(BigInteger)),
        )
        .table_valued("poll_id", "counter", "shard", "value")
        .render_derived(name="new_counts")
    )
    statement = postgresql.insert(_counters).from_select(
        ["poll_id", "counter", "shard", "value"],
        select(rows.c.poll_id, rows.c.counter, rows.c.shard, rows.c.value),
    )
    return _adding_on_conflict(statement)


@functools.cache
def _sqlite_upsert():
    return _adding_on_conflict(sqlite.insert(_counters))


def _adding_on_conflict(statement):
    return statement.on_conflict_do_update(
        index_elements=["poll_id", "counter", "shard"],
        set_={"value": _counters.c.value + statement.excluded.value},
    )


_SUMS_BY_COUNTER = (
    select(_counters.c.counter, func.sum(_counters.c.value))
    .where(_counters.c.poll_id == bindparam("poll_id"))
    .group_by(_counters.c.counter)
)


def read_counts(executor: Connection | Session | scoped_session, poll_id: int) -> dict[str, int]:
    rows = connection_of(executor).execute(_SUMS_BY_COUNTER, {"poll_id": poll_id})
    return {counter: int(total) for counter, total in rows if total}


class SummedCounts(NamedTuple):
    """A poll's tallies and when they were summed."""

    summed_at: float  # time.monotonic() just before the read: counts every commit before it
    counts: dict[str, int]


def sum_counts(connection: Connection, poll_id: int) -> SummedCounts:
    summed_at = time.monotonic()
    return SummedCounts(summed_at, read_counts(connection, poll_id))
