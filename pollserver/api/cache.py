"""Per-process caches for the hottest reads: a poll's tree and its assembled results.

Trees are keyed by the poll's ``updated_at``, so any edit or status change builds a new one.
Results live for ``RESULTS_CACHE_SECONDS`` (config); the process that records an answer or hides one
forgets them at once, other processes within that many seconds.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import current_app

from pollserver import tally
from pollserver.extensions import db
from pollserver.models import Poll, utcnow
from pollserver.polls import definition_of
from pollserver.results import assemble_results
from pollserver.schemas import ResultsSchema
from pollserver.tree import PollTree

# Keyed by public id, which is unique across databases too: one process may serve several apps
# (tests, benchmarks), and internal ids repeat from one database to the next.
_tree_cache: dict[tuple[str, Any], PollTree] = {}
# public id → (expires, results document, its rendered JSON or None until first asked for)
_results_cache: dict[str, tuple[float, dict, bytes | None]] = {}
_cache_lock = threading.Lock()


def tree_of(poll: Poll) -> PollTree:
    """The poll's tree, built once per version of the poll and process."""
    key = (poll.public_id, poll.updated_at)
    tree = _tree_cache.get(key)
    if tree is None:
        tree = PollTree.from_definition(definition_of(poll))
        with _cache_lock:
            for stale in [cached for cached in _tree_cache if cached[0] == poll.public_id]:
                del _tree_cache[stale]
            _tree_cache[key] = tree
    return tree


def compute_results(poll: Poll) -> dict:
    """Results straight from the tallies, ignoring visibility (callers decide who may see them)."""
    return assemble_results(
        tree_of(poll),
        tally.read_counts(db.session, poll.id),
        poll_id=poll.public_id,
        min_respondents=current_app.config["RESULTS_MIN_RESPONDENTS"],
        as_of=utcnow(),
    )


def current_results(poll: Poll) -> dict:
    """Assembled results, reused for a moment so a busy poll is not summed on every request."""
    now = time.monotonic()
    cached = _results_cache.get(poll.public_id)
    if cached and cached[0] > now:
        return cached[1]
    results = compute_results(poll)
    lifetime = current_app.config["RESULTS_CACHE_SECONDS"]
    if lifetime > 0:
        with _cache_lock:
            _results_cache[poll.public_id] = (now + lifetime, results, None)
    return results


def cached_results_json(public_id: str) -> bytes | None:
    """The rendered results if this process holds fresh ones: no database needed."""
    cached = _results_cache.get(public_id)
    if cached and cached[0] > time.monotonic():
        return cached[2]
    return None


def current_results_json(poll: Poll) -> bytes:
    """The results as the API sends them, rendered once per cached document, not per request."""
    cached = _results_cache.get(poll.public_id)
    if cached and cached[0] > time.monotonic() and cached[2] is not None:
        return cached[2]
    results = current_results(poll)
    body = json.dumps(
        ResultsSchema().dump(results), ensure_ascii=False, separators=(",", ":")
    ).encode()
    with _cache_lock:
        entry = _results_cache.get(poll.public_id)
        if entry is not None and entry[1] is results:
            _results_cache[poll.public_id] = (entry[0], results, body)
    return body


def forget_results(poll: Poll) -> None:
    with _cache_lock:
        _results_cache.pop(poll.public_id, None)
