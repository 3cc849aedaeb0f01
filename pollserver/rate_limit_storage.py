"""The in-process rate-limit storage behind ``RATELIMIT_STORAGE_URI=memory://`` (the default).

limits' ``MemoryStorage`` forgets expired counters by scanning every key from a timer that fires
every 10 ms. With a key per reader address, that scan grows with the audience: under a load from
distinct addresses (``bench/load.py``) it took a large share of the worker's CPU and starved the
requests it was counting. This subclass scans once a second instead. Counting is unchanged: the
storage checks each entry's age when it is read, so the later scan only frees memory later.

The scan also drops a key whose moving-window entries have all expired; limits' scan leaves an
empty list behind for every address it has ever seen, so memory grew with each new reader.

It registers itself for the ``memory`` scheme (limits keeps one class per scheme, the last one
defined), so ``memory://`` keeps its documented meaning and nothing else needs configuring.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import ClassVar

from limits.storage import MemoryStorage

EXPIRY_SCAN_SECONDS = 1.0


class MemoryStorageScannedEverySecond(MemoryStorage):
    STORAGE_SCHEME: ClassVar[list[str]] = ["memory"]

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
        for key in list(self.expirations):
            lock = self.locks[key]
            with lock:
                expiry = self.expirations.get(key)
                # No expiry: a writer is between reading and counting again; leave it be.
                if expiry is not None and expiry <= now:
                    self.storage.pop(key, None)
                    self.expirations.pop(key, None)
                    if self.locks.get(key) is lock:
                        del self.locks[key]
