"""The daily salt that address hashes are keyed with: created once a day, kept two days.

The salt is random and lives in the database, so every worker and host hashes alike; it is
deleted after two days, and from then on no one can tell which address a hash came from (see
``pollserver.core.privacy``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from pollserver.models import AddressSalt

SALT_BYTES = 32
SALT_DAYS_KEPT = 2  # today's and yesterday's, so a day boundary does not split a spike in two

_salt_cache: dict[dt.date, bytes] = {}
_salt_cache_lock = threading.Lock()


def salt_for_day(connection: Connection, day: dt.date) -> bytes:
    """The day's salt: from memory once a committed transaction has used it, otherwise from the
    database, created by whichever worker needs it first (in the caller's transaction).

    Nothing read here is kept in memory: the caller's transaction may still roll back, and a
    salt created in it with it. Call :func:`remember_salt` once that transaction has committed.
    """
    cached = _salt_cache.get(day)
    if cached is not None:
        return cached
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    salts = AddressSalt.__table__
    # Two workers may race to create it: ON CONFLICT DO NOTHING, then everyone reads the winner.
    # (Whether this one won is told by the salt read back: psycopg reports no row count here.)
    candidate = secrets.token_hex(SALT_BYTES)
    connection.execute(
        insert(salts).values(day=day, salt=candidate).on_conflict_do_nothing(index_elements=["day"])
    )
    stored = connection.execute(select(salts.c.salt).where(salts.c.day == day)).scalar_one()
    if stored == candidate:
        connection.execute(delete(salts).where(salts.c.day <= day - dt.timedelta(SALT_DAYS_KEPT)))
    return bytes.fromhex(stored)


def remember_salt(day: dt.date, salt: bytes) -> None:
    """Keep the day's salt in memory, now that a committed transaction has stored or read it."""
    if _salt_cache.get(day) == salt:
        return
    with _salt_cache_lock:
        for stale in [cached_day for cached_day in _salt_cache if cached_day < day]:
            del _salt_cache[stale]
        _salt_cache[day] = salt
