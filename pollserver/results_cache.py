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
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Connection
from werkzeug.http import generate_etag

from pollserver.compression import MIN_COMPRESSED_BYTES, chosen_encoding, compressed
from pollserver.core.results import assemble_results
from pollserver.core.timestamps import utcnow
from pollserver.core.tree import PollTree
from pollserver.database import one_statement_read
from pollserver.extensions import db
from pollserver.models import Poll
from pollserver.services import tallies
from pollserver.services.polls import PollFacts, definition_of, definition_on

JSON_MEDIA_TYPE = "application/json"


def version_key(poll: Poll | PollFacts) -> tuple[str, int, int]:
    """What names a poll version in these caches: its public id and version number, unique
    across databases too (one process may serve several apps, tests or benchmarks; internal ids
    repeat from one database to the next), and its row id (a discarded draft's number may be
    given again to the next version, never its row id)."""
    return poll.public_id, poll.version, poll.id


_tree_cache: dict[tuple[tuple[str, int, int], Any], PollTree] = {}


class Rendered:
    """A document as sent: its JSON and ETag, and each compressed form of it, all computed once
    (a busy poll's document is served from memory to every reader)."""

    __slots__ = ("_encoded", "body", "etag", "media_type", "weak")

    def __init__(
        self, body: bytes, etag: str, *, weak: bool = False, media_type: str = JSON_MEDIA_TYPE
    ):
        self.body = body
        self.etag = etag
        self.weak = weak  # the same tag for bodies that differ in what does not matter
        self.media_type = media_type
        self._encoded: dict[str, bytes] = {}

    @property
    def compressible(self) -> bool:
        """Whether the document is ever sent compressed (its replies vary on Accept-Encoding)."""
        return len(self.body) >= MIN_COMPRESSED_BYTES

    def encoding_for(self, accept_encoding: str) -> str | None:
        """The encoding this document is sent in to a client that accepts ``accept_encoding``."""
        return chosen_encoding(accept_encoding) if self.compressible else None

    def encoded(self, encoding: str | None) -> bytes:
        if encoding is None:
            return self.body
        body = self._encoded.get(encoding)
        if body is None:  # two threads may both compress it once: the same bytes
            body = self._encoded[encoding] = compressed(self.body, encoding)
        return body


def render(document: dict) -> Rendered:
    """A document the API returns, as compact UTF-8 JSON, with the strong ETag of its bytes.

    Documents are built in exactly the shape of their schema (``ResultsSchema``,
    ``ProgressSchema``; tests/api/test_results.py holds them to it), so the hot paths skip
    marshmallow's dump; the schemas still describe them in the OpenAPI document.
    """
    body = compact_json(document)
    return Rendered(body, generate_etag(body))


def render_results(results: dict) -> Rendered:
    """Results as the API sends them, with a weak ETag of their numbers, not of the moment
    they were summed (``as_of``): a client revalidating after the cache was rebuilt with no
    new answer gets a 304. The tag is of the same bytes with ``as_of`` blanked, not of a
    second rendering."""
    body = compact_json(results)
    moment = b'"as_of":' + compact_json(results["as_of"])
    return Rendered(body, generate_etag(body.replace(moment, b'"as_of":null', 1)), weak=True)


def compact_json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def results_etag(results: dict) -> str:
    """The ETag ``render_results`` gives these results (the picture's tag is made from it)."""
    return render_results(results).etag


class CachedResults(NamedTuple):
    expires: float  # time.monotonic()
    summed_at: float  # time.monotonic() just before the tallies were read
    results: dict
    rendered: Rendered | None  # None until a request asks for the JSON


# version key → its cached results
_results_cache: dict[tuple[str, int, int], CachedResults] = {}
# version key → time.monotonic() when a moderator's change last emptied its cached results: a sum
# read before that (by a request still on its way) must not be cached after it.
_results_forgotten_at: dict[tuple[str, int, int], float] = {}
_cache_lock = threading.Lock()


def tree_of(poll: Poll | PollFacts, connection: Connection | None = None) -> PollTree:
    """The poll's tree, built once per version of the poll and process.

    For ``PollFacts`` the definition is read on ``connection`` (the request session's by
    default) and kept only if it is the version the facts name: facts may come from a moment
    ago, or from another transaction.
    """
    key = (version_key(poll), poll.updated_at)
    tree = _tree_cache.get(key)
    if tree is not None:
        return tree
    if isinstance(poll, Poll):
        version, definition = poll.updated_at, definition_of(poll)
    else:
        version, definition = definition_on(connection or db.session.connection(), poll.id)
    tree = PollTree.from_definition(definition)
    if version == poll.updated_at:
        with _cache_lock:
            for stale in [cached for cached in _tree_cache if cached[0] == key[0]]:
                del _tree_cache[stale]
            _tree_cache[key] = tree
    return tree


def compute_results(poll: Poll | PollFacts) -> dict:
    """Results straight from the tallies, ignoring visibility (callers decide who may see them).

    The tallies are read on a connection of their own, so the sum is as of now, never as of an
    older snapshot the request's session may hold (see ``current_results``).
    """
    with one_statement_read() as connection:
        counts = tallies.read_counts(connection, poll.id)
    return results_from_counts(poll, counts)


def results_from_counts(poll: Poll | PollFacts, counts: dict[str, int]) -> dict:
    return assemble_results(
        tree_of(poll),
        counts,
        poll_id=poll.public_id,
        version=poll.version,
        min_respondents=current_app.config["RESULTS_MIN_RESPONDENTS"],
        as_of=utcnow(),
    )


def current_results(
    poll: Poll | PollFacts,
    *,
    counting_since: float | None = None,
    summed: tallies.SummedCounts | None = None,
) -> dict:
    """Assembled results, reused for a moment so a busy poll is not summed on every request.

    ``counting_since`` (a ``time.monotonic()`` after some commit) asks for results that count
    what was committed by then: a reader who has just finished sees themselves counted. Cached
    results summed later serve; otherwise ``summed`` (tallies summed inside that transaction,
    after its writes) or else a sum made now is used, and the cache renewed, not emptied, so
    the readers of the same batch share one sum.
    """
    now = time.monotonic()
    key = version_key(poll)
    cached = _results_cache.get(key)
    if (
        cached
        and cached.expires > now
        and (counting_since is None or cached.summed_at >= counting_since)
    ):
        return cached.results
    if summed is not None:
        summed_at, results = summed.summed_at, results_from_counts(poll, summed.counts)
    else:
        summed_at, results = now, compute_results(poll)
    lifetime = current_app.config["RESULTS_CACHE_SECONDS"]
    if lifetime > 0:
        with _cache_lock:
            kept = _results_cache.get(key)
            newest = kept is None or kept.summed_at <= summed_at  # never replace a later sum
            if newest and summed_at >= _results_forgotten_at.get(key, summed_at):
                _results_cache[key] = CachedResults(now + lifetime, summed_at, results, None)
    return results


def cached_results_json(poll: Poll | PollFacts) -> Rendered | None:
    """The rendered results if this process holds fresh ones: no database needed."""
    cached = _results_cache.get(version_key(poll))
    if cached and cached.expires > time.monotonic():
        return cached.rendered
    return None


def current_results_json(poll: Poll | PollFacts) -> Rendered:
    """The results as the API sends them, rendered once per cached document, not per request."""
    rendered = cached_results_json(poll)
    if rendered is not None:
        return rendered
    results = current_results(poll)
    body = render_results(results)
    key = version_key(poll)
    with _cache_lock:
        entry = _results_cache.get(key)
        if entry is not None and entry.results is results:
            _results_cache[key] = entry._replace(rendered=body)
    return body


def forget_results(poll: Poll | PollFacts) -> None:
    """Empty the poll's cached results after a change to the counts (call once it committed)."""
    key = version_key(poll)
    with _cache_lock:
        _results_cache.pop(key, None)
        _results_forgotten_at[key] = time.monotonic()
