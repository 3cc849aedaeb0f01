"""How many worker processes ``pollserver serve`` runs when not told, and what it refuses."""

from __future__ import annotations

import os

import pytest

from pollserver.server import choose_worker_count, usable_cores


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
