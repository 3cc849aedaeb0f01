"""Per-process caches for the hottest reads: a poll's tree and its assembled results.

Trees are keyed by the poll's ``updated_at``, so any edit or status change builds a new one.
Results live for ``RESULTS_CACHE_SECONDS`` (config); a reader who finishes renews them, a moderator
who hides answers empties them at once in their process, in other processes within that many
seconds.
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
from pollserver.polls import PollFacts, definition_of
from pollserver.results import assemble_results
from pollserver.tree import PollTree

# Keyed by public id, which is unique across databases too: one process may serve several apps
# (tests, benchmarks), and internal ids repeat from one database to the next.
_tree_cache: dict[tuple[str, Any], PollTree] = {}
# public id → (expires, results document, its rendered JSON or None until first asked for)
_results_cache: dict[str, tuple[float, dict, bytes | None]] = {}
_cache_lock = threading.Lock()


def tree_of(poll: Poll | PollFacts) -> PollTree:
    """The poll's tree, built once per version of the poll and process."""
    key = (poll.public_id, poll.updated_at)
    tree = _tree_cache.get(key)
    if tree is None:
        stored = poll if isinstance(poll, Poll) else db.session.get(Poll, poll.id)
        tree = PollTree.from_definition(definition_of(stored))
        with _cache_lock:
            for stale in [cached for cached in _tree_cache if cached[0] == poll.public_id]:
                del _tree_cache[stale]
            _tree_cache[key] = tree
    return tree


def compute_results(poll: Poll | PollFacts) -> dict:
    """Results straight from the tallies, ignoring visibility (callers decide who may see them)."""
    return assemble_results(
        tree_of(poll),
        tally.read_counts(db.session, poll.id),
        poll_id=poll.public_id,
        min_respondents=current_app.config["RESULTS_MIN_RESPONDENTS"],
        as_of=utcnow(),
    )


def current_results(poll: Poll | PollFacts, *, fresh: bool = False) -> dict:
    """Assembled results, reused for a moment so a busy poll is not summed on every request.

    ``fresh`` sums the tallies now and keeps the outcome for the next readers: a reader who has
    just finished sees themselves counted, and the other readers' cache is renewed, not emptied.
    """
    now = time.monotonic()
    cached = _results_cache.get(poll.public_id)
    if cached and cached[0] > now and not fresh:
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


def current_results_json(poll: Poll | PollFacts) -> bytes:
    """The results as the API sends them, rendered once per cached document, not per request."""
    cached = _results_cache.get(poll.public_id)
    if cached and cached[0] > time.monotonic() and cached[2] is not None:
        return cached[2]
    results = current_results(poll)
    body = json_body(results)
    with _cache_lock:
        entry = _results_cache.get(poll.public_id)
        if entry is not None and entry[1] is results:
            _results_cache[poll.public_id] = (entry[0], results, body)
    return body


def json_body(document: dict) -> bytes:
    """A document the API returns, as compact UTF-8 JSON.

    Documents are built in exactly the shape of their schema (``ResultsSchema``,
    ``ProgressSchema``; tests/test_results.py holds them to it), so the hot paths skip
    marshmallow's dump; the schemas still describe them in the OpenAPI document.
    """
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def forget_results(poll: Poll | PollFacts) -> None:
    with _cache_lock:
        _results_cache.pop(poll.public_id, None)
