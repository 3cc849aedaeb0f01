"""The widget's files as the embed routes serve them: widget.js, embed.js, embed-frame.js and the
widget's words, each minified and precompressed once per build (``pollserver.widget_build``).

An installed wheel carries them prebuilt (setup.py); they are used when they were built from the
sources shipped beside them. Otherwise (a checkout, an edited source) the same build runs in
memory, again whenever a source file changes (looked at once a second at most, no restart).

Each file has a plain URL (``/widget.js``: revalidated every few minutes, so a new widget reaches
every page soon) and a content-hashed one (``/widget.<hash>.js``: the same bytes, cached for good).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request
from werkzeug.datastructures import ETags
from werkzeug.http import quote_etag

from pollserver import widget_build
from pollserver.compression import chosen_encoding, variant_etag
from pollserver.config import shipped_folder
from pollserver.errors import json_error
from pollserver.widget_build import (
    BuiltFile,
    WidgetBuild,
    WidgetBuildError,
    read_build,
    source_paths,
)

log = logging.getLogger(__name__)

WIDGET_FOLDER = shipped_folder("widget")
PLAIN_MAX_AGE = 300
PLAIN_STALE_SECONDS = 86400
IMMUTABLE_MAX_AGE = 31536000
# Listing and stating the sources costs tens of microseconds: not on every request.
SOURCES_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class _Loaded:
    folder: Path
    signature: tuple[tuple[str, int, int], ...]
    build: WidgetBuild
    checked_at: float


_lock = threading.Lock()
_loaded: _Loaded | None = None


def sources_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    signature = []
    for path in source_paths(folder):
        stat = path.stat()
        signature.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def current_build() -> WidgetBuild:
    """The files served now: prebuilt when they match the sources, else built here once."""
    global _loaded
    folder = WIDGET_FOLDER
    now = time.monotonic()
    loaded = _loaded
    if (
        loaded is not None
        and loaded.folder == folder
        and now - loaded.checked_at < SOURCES_CHECK_SECONDS
    ):
        return loaded.build
    signature = sources_signature(folder)
    if loaded is not None and loaded.folder == folder and loaded.signature == signature:
        _loaded = dataclasses.replace(loaded, checked_at=now)
        return loaded.build
    with _lock:
        loaded = _loaded
        if loaded is not None and loaded.folder == folder and loaded.signature == signature:
            return loaded.build
        try:
            build = read_build(folder) or build_elsewhere(folder)
        except WidgetBuildError as error:
            if loaded is None or loaded.folder != folder:
                raise
            # An edit that breaks the build leaves readers with the last good widget.
            log.error("The widget could not be rebuilt; still serving the last build: %s", error)
            build = loaded.build
        _loaded = _Loaded(folder, signature, build, now)
        return build


# A build of the widget's few small files takes well under a second; a stuck one is a fault.
BUILD_TIMEOUT_SECONDS = 60


def build_elsewhere(folder: Path) -> WidgetBuild:
    """The same build as a wheel's, run as a program of its own: the minifier is Go code, which
    must not be loaded into a server process that forks or was forked (pollserver.widget_build)."""
    with tempfile.TemporaryDirectory(prefix="pollserver-widget-") as target:
        try:
            finished = subprocess.run(
                [sys.executable, widget_build.__file__, str(folder), target],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise WidgetBuildError(f"the widget's build took over {error.timeout} s") from error
        if finished.returncode != 0:
            raise WidgetBuildError(finished.stderr.strip() or f"exit {finished.returncode}")
        build = read_build(folder, Path(target))
    if build is None:
        # The sources changed while they were built: the next request builds them again.
        raise WidgetBuildError("the widget's sources changed during its build")
    return build


def built_file(name: str) -> BuiltFile:
    built = current_build().file(name)
    if built is None:
        raise LookupError(f"the widget build has no {name}")
    return built


def widget_languages() -> frozenset[str]:
    return current_build().languages


# --- responses ----------------------------------------------------------------------------------


def plain_response(name: str):
    """A file at its plain URL; ``?v=<its hash>`` (the older versioned URL) is cached for good."""
    built = built_file(name)
    return _response(built, immutable=request.args.get("v") == built.content_hash)


# How long a stale words URL's redirect may be reused: as long as a plain /widget.js is.
STALE_REDIRECT_MAX_AGE = PLAIN_MAX_AGE


def hashed_response(name: str, digest: str, *, redirect_stale: bool = False):
    """A file at its content-hashed URL: only the current content answers, for good; any other
    hash (a version this server no longer has) is a 404, never other bytes under that name.

    ``redirect_stale``: a stale hash is sent on to the current file instead (the widget's words:
    a widget.js that a browser still holds from before an update asks for its old words; the
    current ones serve it, any word it lacks falling back to English)."""
    built = current_build().file(name)
    if built is not None and digest != built.content_hash and redirect_stale:
        response = Response(status=307, headers={"Location": f"{request.root_path}/{built.path}"})
        response.headers.update(_cors_headers())
        response.headers["Cache-Control"] = f"public, max-age={STALE_REDIRECT_MAX_AGE}"
        return response
    if built is None or digest != built.content_hash:
        return hashed_not_found(name, digest)
    return _response(built, immutable=True)


def hashed_not_found(name: str, digest: str):
    built = current_build().file(name)
    current = {"current": [f"/{built.path}"]} if built is not None else {}
    response = json_error(
        404,
        f"This server has no version {digest!r} of {name}: the file changed when the server was "
        "updated. Use the plain URL, or the pinned snippet on the poll's share page.",
        {"path": [request.path], **current},
    )
    response.headers.update(_cors_headers())
    return response


def _response(built: BuiltFile, *, immutable: bool) -> Response:
    return file_response(
        built,
        immutable=immutable,
        accept_encoding=request.headers.get("Accept-Encoding", ""),
        if_none_match=request.if_none_match if "If-None-Match" in request.headers else None,
    )


def file_response(
    built: BuiltFile, *, immutable: bool, accept_encoding: str, if_none_match: ETags | None
) -> Response:
    """A file as sent to a client that accepts ``accept_encoding`` and holds ``if_none_match``
    (also how ``pollserver.fast_lane`` serves ``/widget.js``)."""
    encoding = chosen_encoding(accept_encoding)
    # One strong ETag per representation: a client holding another encoding (it changed what
    # it accepts, or a cache shared between clients that differ) gets this one, not a 304.
    client_has_it = if_none_match is not None and if_none_match.contains_weak(
        variant_etag(built.content_hash, encoding)
    )
    body = b""
    if not client_has_it:
        body = {"br": built.brotli, "gzip": built.gzip}.get(encoding or "", built.body)
    return Response(
        body,
        status=304 if client_has_it else 200,
        headers=file_headers(
            built.content_hash, built.media_type, encoding, immutable, client_has_it
        ),
    )


def _cors_headers() -> dict[str, str]:
    # A public script any page may load (crossorigin="anonymous" for Subresource Integrity too)
    # and time (Timing-Allow-Origin: publishers' performance monitoring sees its timings).
    return {
        "Access-Control-Allow-Origin": "*",
        "Timing-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }


@functools.lru_cache(maxsize=64)
def file_headers(
    content_hash: str,
    media_type: str,
    encoding: str | None,
    immutable: bool,
    not_modified: bool,
) -> tuple[tuple[str, str], ...]:
    """A file's response headers, built once per version and variant, not per request."""
    if immutable:
        cache_control = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
    else:
        cache_control = (
            f"public, max-age={PLAIN_MAX_AGE}, stale-while-revalidate={PLAIN_STALE_SECONDS}"
        )
    headers = [
        ("ETag", quote_etag(variant_etag(content_hash, encoding))),
        ("Cache-Control", cache_control),
        ("Vary", "Accept-Encoding"),
        *_cors_headers().items(),
    ]
    if not not_modified:
        headers.append(("Content-Type", media_type))
        if encoding:
            headers.append(("Content-Encoding", encoding))
    return tuple(headers)
