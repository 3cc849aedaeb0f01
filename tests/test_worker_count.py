"""How many worker processes ``pollserver serve`` runs when not told, what it refuses, and
what a new worker clears of the ones before it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pollserver.metrics import MULTIPROCESS_ENV
from pollserver.server import choose_worker_count, forget_dead_workers_metrics, usable_cores


def test_one_worker_per_core_on_shared_limits_unless_told():
    assert choose_worker_count(0, shared_limit_storage=True, limits_enabled=True) == (
        usable_cores()
    )
    assert choose_worker_count(3, shared_limit_storage=True, limits_enabled=True) == 3


def test_usable_cores_follow_the_affinity_the_process_is_given():
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert usable_cores() == len(allowed)


def test_one_worker_on_in_memory_limits_and_never_more_while_limits_count():
    assert choose_worker_count(0, shared_limit_storage=False, limits_enabled=True) == 1
    with pytest.raises(ValueError, match="RATELIMIT_STORAGE_URI"):
        choose_worker_count(2, shared_limit_storage=False, limits_enabled=True)
    # Without limits there is nothing to share between processes.
    assert choose_worker_count(2, shared_limit_storage=False, limits_enabled=False) == 2


def test_a_new_worker_forgets_the_live_gauges_of_processes_that_are_gone(tmp_path, monkeypatch):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    for pid in (dead_pid, os.getpid()):
        (tmp_path / f"gauge_livemax_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    forget_dead_workers_metrics()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"counter_{dead_pid}.db", f"counter_{os.getpid()}.db", f"gauge_livemax_{os.getpid()}.db"]
    )
