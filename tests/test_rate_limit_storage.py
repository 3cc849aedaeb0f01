"""The memory:// rate-limit storage: limits' own, with its expiry scan once a second."""

from __future__ import annotations

import time
import uuid

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from pollserver.rate_limit_storage import (
    EXPIRY_SCAN_SECONDS,
    MemoryStorageScannedEverySecond,
    acquire_sliding_windows,
)


def test_memory_uri_gives_the_storage_that_scans_once_a_second():
    storage = storage_from_string("memory://")
    assert isinstance(storage, MemoryStorageScannedEverySecond)
    storage.timer.join()  # the first scan, which limits starts with the storage, has run
    limiter = MovingWindowRateLimiter(storage)
    assert limiter.hit(parse("2/second"), "reader")
    # The override is the method limits calls before every write: the new timer proves it ran.
    assert storage.timer.interval == EXPIRY_SCAN_SECONDS
    assert storage.timer.daemon


def test_counting_is_exact_and_expired_counters_are_freed():
    storage = storage_from_string("memory://")
    limiter = MovingWindowRateLimiter(storage)
    one_per_second = parse("2/second")
    assert limiter.hit(one_per_second, "reader")
    assert limiter.hit(one_per_second, "reader")
    assert not limiter.hit(one_per_second, "reader")  # third within the second: refused
    assert limiter.hit(one_per_second, "another reader")
    time.sleep(1.05)
    assert limiter.hit(one_per_second, "reader")  # the window moved on before any scan
    deadline = time.monotonic() + 5
    while "another reader" in str(list(storage.events)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any("another reader" in key for key in storage.events)


class CountersThatMustNotBeWalked(dict):
    def __iter__(self):
        raise AssertionError("the expiry scan walked every counter")

    def keys(self):
        raise AssertionError("the expiry scan walked every counter")


def test_expired_counters_are_freed_without_walking_the_live_ones():
    storage = storage_from_string("memory://")
    storage.timer.join()
    for number in range(1000):  # daily-limit counters: they live on
        storage.incr(f"live-{number}", 3600)
    for number in range(10):
        storage.incr(f"short-{number}", 0.2)
    storage.incr("renewed", 0.2)
    time.sleep(0.3)
    assert storage.incr("renewed", 3600) == 1  # expired, then counted again: a new counter
    storage.expirations = CountersThatMustNotBeWalked(storage.expirations)
    storage.storage = CountersThatMustNotBeWalked(storage.storage)

    storage._MemoryStorage__expire_events()

    assert not any(f"short-{number}" in storage.storage for number in range(10))
    assert not any(f"short-{number}" in storage.locks for number in range(10))
    assert all(storage.get(f"live-{number}") == 1 for number in range(1000))
    assert storage.get("renewed") == 1
    assert len(storage.expiry_queue) == 1001  # what is left to expire: the live ones


def test_limits_acquired_together_on_redis_count_as_limits_own_hits(redis_url):
    """Both of an answer's limits in one script call: the same counters, the same verdicts."""
    storage = storage_from_string(redis_url)
    strategy = SlidingWindowCounterRateLimiter(storage)
    items = (parse("2/minute"), parse("3/day"))
    together, one_by_one = f"together-{uuid.uuid4().hex}", f"apart-{uuid.uuid4().hex}"
    verdicts = []
    for _ in range(4):
        in_one_call = acquire_sliding_windows(
            strategy, items, [together, "scope"], stop_at_first_breach=False
        )
        separate = [strategy.hit(item, one_by_one, "scope") for item in items]
        assert in_one_call == separate
        verdicts.append(in_one_call)
    assert verdicts == [[True, True], [True, True], [False, True], [False, False]]
    for item in items:  # limits reads the counters where its own hits put theirs
        assert strategy.get_window_stats(item, together, "scope").remaining == 0


def test_stopping_at_the_first_breach_leaves_the_longer_window_alone(redis_url):
    """As flask-limiter's default: an answer refused by the minute's limit spends none of the
    day's (else a reader who clicks too fast would be locked out for the day)."""
    for storage in (storage_from_string(redis_url), storage_from_string("memory://")):
        strategy = SlidingWindowCounterRateLimiter(storage)
        items = (parse("2/minute"), parse("5/day"))
        reader = [f"reader-{uuid.uuid4().hex}", "scope"]
        verdicts = [acquire_sliding_windows(strategy, items, reader) for _ in range(6)]
        assert verdicts == [[True, True], [True, True]] + [[False, True]] * 4
        assert strategy.get_window_stats(items[1], *reader).remaining == 3  # only 2 spent


def test_limits_on_memory_are_acquired_one_by_one():
    strategy = SlidingWindowCounterRateLimiter(storage_from_string("memory://"))
    items = (parse("1/minute"), parse("5/day"))
    assert acquire_sliding_windows(strategy, items, ["reader"], stop_at_first_breach=False) == [
        True,
        True,
    ]
    assert acquire_sliding_windows(strategy, items, ["reader"], stop_at_first_breach=False) == [
        False,
        True,
    ]
    assert strategy.get_window_stats(items[1], "reader").remaining == 3
