"""The daily salt that address hashes are keyed with, kept only where it expires by itself.

A stored address hash can be reversed by whoever has its day's salt: with it, all of IPv4 takes
a few CPU-hours. So the salt never reaches the database (nor its backups): it lives in process
memory on the embedded default (one process), and in Redis with a two-day expiry when pollserver
is scaled out (every worker and host must hash alike, and the rate limits already share Redis).
Once a day's salt has expired, no one, us included, can tell which address a hash came from.

A restart of the one process, or a Redis that loses its keys, starts a new salt: addresses are
then hashed differently from before for the rest of the day (the daily cap starts afresh, and
a moderator's groups by address split at that moment). That is the price of a salt nobody can
recover later.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)

SALT_BYTES = 32
SALT_DAYS_KEPT = 2  # today's and yesterday's, so a day boundary does not split a spike in two
# How long a process reuses a salt read from Redis before reading it again: a salt Redis lost
# and made anew reaches every process within this time.
SALT_REUSE_SECONDS = 60.0
# After Redis failed to answer, how long this process uses its own salts before asking again.
UNREACHABLE_RETRY_SECONDS = 5.0


class AddressSalts(Protocol):
    def for_day(self, day: dt.date) -> bytes: ...


class SaltsInMemory:
    """Salts made and kept by this process, for ``SALT_DAYS_KEPT`` days."""

    def __init__(self) -> None:
        self._salts: dict[dt.date, bytes] = {}
        self._lock = threading.Lock()

    def for_day(self, day: dt.date) -> bytes:
        salt = self._salts.get(day)
        if salt is not None:
            return salt
        with self._lock:
            salt = self._salts.get(day)
            if salt is None:
                salt = self._salts[day] = secrets.token_bytes(SALT_BYTES)
                oldest_kept = day - dt.timedelta(days=SALT_DAYS_KEPT - 1)
                for stale in [kept for kept in self._salts if kept < oldest_kept]:
                    del self._salts[stale]
            return salt


class SaltsInRedis:
    """Salts shared through Redis (``client``: a redis-py client), each key expiring
    ``SALT_DAYS_KEPT`` days after its day began. Whichever process needs a day's salt first
    makes it (SET NX); everyone reads the one that won. While Redis cannot be reached, this
    process hashes with salts of its own (``fallback``) and says so in the log."""

    def __init__(self, client: Any, key_prefix: str, fallback: AddressSalts | None = None):
        self._client = client
        self._key_prefix = key_prefix
        self._fallback = fallback or SaltsInMemory()
        self._reused: dict[dt.date, tuple[float, bytes]] = {}
        self._unreachable_until = 0.0  # time.monotonic(): no answer waits on a Redis that is down

    def key_for(self, day: dt.date) -> str:
        return f"{self._key_prefix}:address-salt:{day.isoformat()}"

    def for_day(self, day: dt.date) -> bytes:
        now = time.monotonic()
        reused = self._reused.get(day)
        if reused is not None and reused[0] > now:
            return reused[1]
        if now < self._unreachable_until:
            return self._fallback.for_day(day)
        expires_at = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(SALT_DAYS_KEPT)
        lifetime = max(1, int((expires_at - dt.datetime.now(dt.UTC)).total_seconds()))
        key = self.key_for(day)
        try:
            self._client.set(key, secrets.token_hex(SALT_BYTES), nx=True, ex=lifetime)
            stored = self._client.get(key)
        except Exception as error:  # redis-py's connection and timeout errors
            log.warning("address salt: Redis unavailable (%s); this process uses its own", error)
            self._unreachable_until = time.monotonic() + UNREACHABLE_RETRY_SECONDS
            return self._fallback.for_day(day)
        if stored is None:  # expired between the two calls (the very end of its life)
            return self._fallback.for_day(day)
        salt = bytes.fromhex(stored.decode() if isinstance(stored, bytes) else stored)
        self._reused = {day: (time.monotonic() + SALT_REUSE_SECONDS, salt)}
        return salt
