"""The in-process rate-limit storage behind ``RATELIMIT_STORAGE_URI=memory://`` (the default).

limits' ``MemoryStorage`` forgets expired counters by scanning every key from a timer that fires
every 10 ms. With a key per reader address, that scan grows with the audience: under a load from
distinct addresses (``bench/load.py``) it took a large share of the worker's CPU and starved the
requests it was counting. This subclass scans once a second instead. Counting is unchanged: the
storage checks each entry's age when it is read, so the later scan only frees memory later.

The scan also drops a key whose moving-window entries have all expired; limits' scan leaves an
empty list behind for every address it has ever seen, so memory grew with each new reader.

Counters (the default sliding-window-counter strategy keeps two per limit and address) are
forgotten from a queue ordered by expiry, not by walking every key: a counter of the daily
answer limit lives two days, so a front-page poll's new readers leave millions of live keys
behind them, and a walk over all of them every second would cost more than the second.

It registers itself for the ``memory`` scheme (limits keeps one class per scheme, the last one
defined), so ``memory://`` keeps its documented meaning and nothing else needs configuring.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter

EXPIRY_SCAN_SECONDS = 1.0


class MemoryStorageScannedEverySecond(MemoryStorage):
    STORAGE_SCHEME: ClassVar[list[str]] = ["memory"]

    def __init__(self, *args, **kwargs):
        # Set before limits' constructor, which starts the first scan.
        self.expiry_queue: list[tuple[float, str]] = []
        self.expiry_queue_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    # limits calls its private ``__schedule_expiry`` before every write; this is that method's
    # mangled name. tests/test_rate_limit_storage.py fails if a limits release renames it.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(EXPIRY_SCAN_SECONDS, self._MemoryStorage__expire_events)
            self.timer.daemon = True  # a pending scan must not hold up shutdown
            self.timer.start()

    def _MemoryStorage__expire_events(self) -> None:
        now = time.time()
        for key in list(self.events):
            lock = self.locks[key]
            with lock:
                events = self.events.get(key)
                if events:
                    # Entries are newest first; keep those whose expiry is still ahead, in a new
                    # list (readers bisect the old one without the lock).
                    live = bisect.bisect_left(events, -now, key=lambda entry: -entry.expiry)
                    if live < len(events):
                        events = self.events[key] = events[:live]
                if not events:
                    self.events.pop(key, None)
                    if self.locks.get(key) is lock:
                        del self.locks[key]
        self._forget_expired_counters(now)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        count = super().incr(key, expiry, amount)
        if count == amount:  # a new counter: limits has just set its expiry
            expires_at = self.expirations.get(key)
            if expires_at is not None:
                with self.expiry_queue_lock:
                    heapq.heappush(self.expiry_queue, (expires_at, key))
        return count

    def _forget_expired_counters(self, now: float) -> None:
        """Free the counters whose expiry has passed, earliest first; live ones are not read."""
        while True:
            with self.expiry_queue_lock:
                if not self.expiry_queue or self.expiry_queue[0][0] > now:
                    return
                _, key = heapq.heappop(self.expiry_queue)
            lock = self.locks[key]
            with lock:
                expiry = self.expirations.get(key)
                if expiry is None:
                    # Gone already (read after it expired); or a writer is between reading and
                    # counting again, which queues the counter anew.
                    if key not in self.storage and self.locks.get(key) is lock:
                        del self.locks[key]
                    continue
                if expiry > now:  # expired and started again since: queued again by incr
                    continue
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                if self.locks.get(key) is lock:
                    del self.locks[key]


# limits' acquire_sliding_window.lua, for several windows in one call: each window is acquired
# exactly as limits does it (the same keys, counts and expiries), in order; with ARGV[1] == "1"
# the windows after the first full one are left alone, as flask-limiter leaves them when it
# stops at the first breach. Returns 1 or 0 for each window it looked at.
ACQUIRE_SLIDING_WINDOWS_LUA = """
local stop_at_first_breach = ARGV[1] == "1"
local verdicts = {}
for window = 1, #KEYS / 2 do
  local previous_key, current_key = KEYS[2 * window - 1], KEYS[2 * window]
  local limit = tonumber(ARGV[3 * window - 1])
  local expiry = tonumber(ARGV[3 * window]) * 1000
  local amount = tonumber(ARGV[3 * window + 1])
  local acquired = 0
  if amount <= limit then
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
      redis.call('rename', current_key, previous_key)
      redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = tonumber(redis.call('pttl', previous_key)) or 0
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = tonumber(redis.call('pttl', current_key)) or 0
    if previous_ttl <= 0 then previous_ttl = 0 end
    if current_ttl <= 0 then current_ttl = 0 end
    local weighted_count = math.floor(previous_count * previous_ttl / expiry) + current_count
    if weighted_count + amount <= limit then
      if redis.call('exists', current_key) == 1 then
        redis.call('incrby', current_key, amount)
      else
        redis.call('set', current_key, amount, 'PX', expiry * 2)
      end
      acquired = 1
    end
  end
  verdicts[window] = acquired
  if acquired == 0 and stop_at_first_breach then
    break
  end
end
return verdicts
"""


@functools.lru_cache(maxsize=8)
def acquire_windows_script(client: Any) -> Any:
    return client.register_script(ACQUIRE_SLIDING_WINDOWS_LUA)


def acquire_sliding_windows(
    strategy: RateLimiter,
    items: Sequence[RateLimitItem],
    identifiers: Sequence[str],
    *,
    stop_at_first_breach: bool = True,
) -> list[bool]:
    """``strategy.hit(item, *identifiers)`` for each item in order (stopping after the first
    refused one when ``stop_at_first_breach``, as flask-limiter's default does); an item not
    looked at counts as acquired. Where the storage is a single Redis server and the strategy
    the default sliding-window counter, every window goes in one script call (one round trip
    for both of an answer's limits, where flask-limiter makes two); other storages are hit a
    limit at a time."""
    storage = strategy.storage
    if not (type(strategy) is SlidingWindowCounterRateLimiter and type(storage) is RedisStorage):
        verdicts = []
        for item in items:
            verdicts.append(strategy.hit(item, *identifiers))
            if stop_at_first_breach and not verdicts[-1]:
                break
        return verdicts + [True] * (len(items) - len(verdicts))
    keys: list[str] = []
    arguments: list[Any] = ["1" if stop_at_first_breach else "0"]
    for item in items:
        key = item.key_for(*identifiers)
        keys += [
            storage.prefixed_key(storage._previous_window_key(key)),
            storage.prefixed_key(storage._current_window_key(key)),
        ]
        arguments += [item.amount, item.get_expiry(), 1]
    # A Script object's call is one EVALSHA (it loads the script once if Redis lacks it).
    replies = acquire_windows_script(storage.get_connection())(keys=keys, args=arguments)
    verdicts = [bool(reply) for reply in replies]
    return verdicts + [True] * (len(items) - len(verdicts))


def redis_client_for(uri: str, options: dict[str, Any] | None = None) -> Any | None:
    """A redis-py client for the limits' storage ``uri`` when it is Redis (a single server,
    Sentinel or a Cluster), else None: what else pollserver shares between processes goes where
    its limits already are (whether the limits are on or not)."""
    if uri.startswith("memory://"):
        return None
    storage = storage_from_string(uri, **(options or {}))
    return storage.get_connection() if isinstance(storage, RedisStorage) else None
