"""What proof of work must remember: the challenges already spent, and each poll's surge.

Both live where the rate limits live: in this process's memory on the embedded default (one
process), in Redis when pollserver is scaled out, so that a challenge spent on one worker is
spent on all and a surge is measured across them. Both expire by themselves (a spent
challenge when it would have expired, a minute's count after ``SURGE_MINUTES``), and neither
holds anything about a reader: a challenge's random salt, and counts per poll.

While Redis cannot be reached, each process remembers on its own and says so in the log: a
challenge could then be spent once per process, and surges are measured per process, for the
few seconds until Redis answers again.

No Flask: the caller gives a redis-py client (or none) and the key prefix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pollserver.core.proof_of_work import (
    CHALLENGE_SECONDS,
    ITERATIONS,
    PROOF_OF_WORK_REASON,
    ProofNotAccepted,
    bits_for_surge,
    check_proof,
    issue_challenge,
)
from pollserver.core.refusals import Refused

log = logging.getLogger(__name__)

# A spike raises the work for this long: the busiest of the last minutes counts.
SURGE_MINUTES = 5
# How often a process adds its new readers to the shared counts and reads everyone's back.
SURGE_SYNC_SECONDS = 1.0
UNREACHABLE_RETRY_SECONDS = 5.0
# Spent challenges a process remembers on its own before forgetting the oldest (a challenge
# lives CHALLENGE_SECONDS; at most this many new readers beyond the cap per process in that time).
MAX_SPENT_IN_MEMORY = 100_000


class SpentChallenges(Protocol):
    def spend(self, salt: str, expires: int) -> bool:
        """Mark a challenge spent; False if it already was."""
        ...


class SpentInMemory:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._spent: dict[str, int] = {}  # salt -> expiry, in the order they were spent
        self._lock = threading.Lock()
        self._clock = clock

    def spend(self, salt: str, expires: int) -> bool:
        with self._lock:
            if salt in self._spent:
                return False
            self._spent[salt] = expires
            if len(self._spent) > MAX_SPENT_IN_MEMORY or len(self._spent) % 1024 == 0:
                self._forget_expired()
            return True

    def _forget_expired(self) -> None:
        now = self._clock()
        for salt in [salt for salt, expires in self._spent.items() if expires < now]:
            del self._spent[salt]
        while len(self._spent) > MAX_SPENT_IN_MEMORY:  # expired or not: the oldest go first
            del self._spent[next(iter(self._spent))]


class SpentInRedis:
    """One SET NX with the challenge's remaining life per spend."""

    def __init__(self, client: Any, key_prefix: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._key_prefix = key_prefix
        self._fallback = SpentInMemory(clock)
        self._clock = clock
        self._unreachable_until = 0.0

    def key_for(self, salt: str) -> str:
        return f"{self._key_prefix}:spent-challenge:{salt}"

    def spend(self, salt: str, expires: int) -> bool:
        now = time.monotonic()
        if now < self._unreachable_until:
            return self._fallback.spend(salt, expires)
        lifetime = max(1, int(expires - self._clock()) + 1)
        try:
            return bool(self._client.set(self.key_for(salt), b"1", nx=True, ex=lifetime))
        except Exception as error:  # redis-py's connection and timeout errors
            log.warning(
                "spent challenges: Redis unavailable (%s); this process keeps its own", error
            )
            self._unreachable_until = now + UNREACHABLE_RETRY_SECONDS
            return self._fallback.spend(salt, expires)


class NewReaderSurge:
    """New readers per poll and minute, over the last ``SURGE_MINUTES`` minutes.

    ``arrived`` counts one new reader in this process; ``busiest_minute`` is the most any one of
    those minutes had. With a Redis ``client``, the counts are everyone's: at most once per
    ``SURGE_SYNC_SECONDS``, the thread that finds a sync due adds what this process counted
    since the last one (INCRBY per poll and minute, each key expiring) and reads back every
    process's totals, in one round trip; in between, answers are not delayed at all, and the
    numbers are at most that old.
    """

    def __init__(
        self,
        client: Any = None,
        key_prefix: str = "pollserver",
        clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._key_prefix = key_prefix
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}  # what this process knows, by (poll, minute)
        self._unsent: dict[tuple[str, int], int] = {}  # counted here, not yet added in Redis
        self._watched: dict[str, int] = {}  # polls to read back, with the minute last asked of
        self._next_sync = 0.0
        self._syncing = False
        self._unreachable_until = 0.0
        self._pruned_at = 0

    def arrived(self, poll_id: str) -> None:
        minute = self._minute()
        with self._lock:
            key = (poll_id, minute)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._client is not None:
                self._unsent[key] = self._unsent.get(key, 0) + 1
                self._watched[poll_id] = minute
        self._sync_if_due()

    def busiest_minute(self, poll_id: str) -> int:
        minute = self._minute()
        if self._client is not None:
            with self._lock:
                self._watched[poll_id] = minute
            self._sync_if_due()
        counts = self._counts
        return max(
            (
                counts.get((poll_id, earlier), 0)
                for earlier in range(minute - SURGE_MINUTES + 1, minute + 1)
            ),
            default=0,
        )

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def _sync_if_due(self) -> None:
        if self._client is None:
            self._forget_old()
            return
        now = time.monotonic()
        if now < self._next_sync or now < self._unreachable_until:
            return
        with self._lock:
            if self._syncing or now < self._next_sync:
                return
            self._syncing = True
            self._next_sync = now + SURGE_SYNC_SECONDS
            unsent, self._unsent = self._unsent, {}
        try:
            self._sync(unsent)
        except Exception as error:  # redis-py's connection and timeout errors
            log.warning("reader surge: Redis unavailable (%s); this process counts its own", error)
            self._unreachable_until = time.monotonic() + UNREACHABLE_RETRY_SECONDS
            with self._lock:  # counted again at the next sync
                for key, count in unsent.items():
                    self._unsent[key] = self._unsent.get(key, 0) + count
        finally:
            with self._lock:
                self._syncing = False

    def _sync(self, unsent: dict[tuple[str, int], int]) -> None:
        minute = self._minute()
        lifetime = (SURGE_MINUTES + 1) * 60
        with self._lock:
            watched = [
                poll for poll, asked in self._watched.items() if asked > minute - SURGE_MINUTES
            ]
            self._watched = {poll: self._watched[poll] for poll in watched}
        keys = [
            (poll, earlier)
            for poll in watched
            for earlier in range(minute - SURGE_MINUTES + 1, minute + 1)
        ]
        pipeline = self._client.pipeline(transaction=False)
        for (poll, at), count in unsent.items():
            pipeline.incrby(self.key_for(poll, at), count)
            pipeline.expire(self.key_for(poll, at), lifetime)
        if keys:
            pipeline.mget([self.key_for(poll, at) for poll, at in keys])
        replies = pipeline.execute()
        totals = replies[-1] if keys else []
        counts = {
            key: int(total) for key, total in zip(keys, totals, strict=True) if total is not None
        }
        with self._lock:
            # Counted here since the sync began: not in the totals yet.
            for key, count in self._unsent.items():
                counts[key] = counts.get(key, 0) + count
            self._counts = counts

    def key_for(self, poll_id: str, minute: int) -> str:
        return f"{self._key_prefix}:new-readers:{poll_id}:{minute}"

    def _forget_old(self) -> None:
        """Drop minutes too old to count (in memory; Redis expires its own), once a minute."""
        minute = self._minute()
        if minute == self._pruned_at:
            return
        with self._lock:
            self._pruned_at = minute
            oldest = minute - SURGE_MINUTES
            self._counts = {key: count for key, count in self._counts.items() if key[1] > oldest}


class ProofOfWork:
    """The new-reader side of an answer: checks and spends a proof, asks for work during a
    surge, and turns a refusal that owes work into one carrying a signed challenge.

    ``base_bits`` and ``surge_per_minute`` are read per answer (config may change in tests);
    ``base_bits`` 0 asks no work anywhere (beyond the cap, readers are then refused).
    """

    def __init__(
        self,
        secret: str,
        spent: SpentChallenges,
        surge: NewReaderSurge,
        base_bits: Callable[[], int],
        surge_per_minute: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ):
        self._secret = secret
        self._spent = spent
        self._surge = surge
        self._base_bits = base_bits
        self._surge_per_minute = surge_per_minute
        self._clock = clock

    def bits_paid(self, poll_id: str, proof: dict[str, str] | None) -> int:
        """The work a new reader's proof carries (0 for none), once checked and spent; a proof
        that does not stand is refused with a new challenge, for the work owed now."""
        if not proof:
            return 0
        now = self._clock()
        try:
            found = check_proof(self._secret, poll_id, proof["challenge"], proof["nonce"], now)
            if not self._spent.spend(found.salt, found.expires):
                raise ProofNotAccepted("spent")
        except ProofNotAccepted as refusal:
            bits = max(self._base_bits(), self.surge_bits(poll_id))
            if bits <= 0:  # no work is asked any more: the proof is not needed
                return 0
            raise self.with_challenge(
                Refused(
                    429,
                    f"The proof of work was not accepted ({refusal.reason}): send this answer "
                    "again with a proof for the new `details.challenge`.",
                    {"reason": PROOF_OF_WORK_REASON, "difficulty": bits, "proof": refusal.reason},
                ),
                poll_id,
            ) from None
        return found.bits

    def reader_started(self, poll_id: str) -> None:
        """Count a new reader towards the poll's surge (not counted while surges ask nothing)."""
        if self._surge_per_minute() > 0 and self._base_bits() > 0:
            self._surge.arrived(poll_id)

    def surge_bits(self, poll_id: str) -> int:
        readers_per_minute, base_bits = self._surge_per_minute(), self._base_bits()
        if readers_per_minute <= 0 or base_bits <= 0:  # surges ask nothing: no need to look
            return 0
        return bits_for_surge(self._surge.busiest_minute(poll_id), readers_per_minute, base_bits)

    def refuse_unpaid_surge(self, poll_id: str, bits_paid: int) -> None:
        owed = self.surge_bits(poll_id)
        if bits_paid < owed:
            raise self.with_challenge(
                Refused(
                    429,
                    "This poll has many new readers right now: send this answer again with a "
                    "proof of work (`proof`) for `details.challenge`.",
                    {"reason": PROOF_OF_WORK_REASON, "difficulty": owed, "why": "surge"},
                ),
                poll_id,
            )

    def with_challenge(self, refusal: Refused, poll_id: str) -> Refused:
        """``refusal`` (owing ``details.difficulty`` bits) with a new challenge for them, and
        everything a client needs to answer it."""
        bits = refusal.details["difficulty"]
        challenge = issue_challenge(self._secret, poll_id, bits, self._clock())
        details = {
            **refusal.details,
            "challenge": challenge,
            "algorithm": "PBKDF2-HMAC-SHA256",
            "iterations": ITERATIONS,
            "expires_in": CHALLENGE_SECONDS,
        }
        return Refused(refusal.status, refusal.message, details)
