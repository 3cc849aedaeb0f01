"""What pollserver keeps about a reader, and how: tokens and address hashes, never raw values.

- A respondent token is 192 random bits the server issues; only its SHA-256 is stored.
- A client address is only ever kept as HMAC-SHA256(address, salt of the day). The salt is random,
  lives in the database (so every worker and host hashes alike), and is deleted after two days:
  from then on no one, us included, can tell which address a hash came from, even by trying
  every IPv4 address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from pollserver.models import AddressSalt

RESPONDENT_TOKEN_BYTES = 24
SALT_BYTES = 32
SALT_DAYS_KEPT = 2  # today's and yesterday's, so a day boundary does not split a spike in two

_salt_cache: dict[dt.date, bytes] = {}
_salt_cache_lock = threading.Lock()


def new_respondent_token() -> str:
    return secrets.token_urlsafe(RESPONDENT_TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def address_hash(address: str, salt: bytes) -> str:
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()


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
