"""Compressed responses, chosen the same way everywhere: brotli or gzip when the client asks.

Three kinds of response are compressed, each once per body where it can be:
- the widget's files, compressed when they are built (``pollserver.widget_build``);
- the API's rendered documents (``Rendered``: a poll, its results), compressed the first
  time a client asks for each encoding, then served from memory like the document itself;
- any other JSON or text response of a view, compressed as it leaves (``compress_response``):
  the admin API, ``/api/v1/openapi.json``, ``/metrics``.

Every compressed representation has its own ETag (the identity one with ``-br`` or ``-gzip``):
a cache or client holding one encoding never gets a 304 for another.
"""

from __future__ import annotations

import functools
import gzip

import brotli
from flask import Response, request
from werkzeug.http import parse_accept_header

from pollserver.response_headers import add_vary

# Best first: brotli is about a tenth smaller than gzip on JSON as on the widget.
ENCODINGS = ("br", "gzip")
# Below this, the framing of a compressed body outweighs what it saves.
MIN_COMPRESSED_BYTES = 512
# Levels for bodies compressed per response: brotli 5 and gzip 6 take tens of microseconds on a
# few kilobytes of JSON and keep most of the gain of the slowest levels.
BROTLI_QUALITY = 5
GZIP_LEVEL = 6
COMPRESSED_MEDIA_TYPES = frozenset(
    {
        "application/json",
        "application/openmetrics-text",
        "image/svg+xml",
        "text/plain",
    }
)


@functools.lru_cache(maxsize=64)
def chosen_encoding(accept_encoding: str) -> str | None:
    """The encoding the client prefers of ``ENCODINGS`` (br on a tie), or none; browsers send a
    handful of distinct headers, each parsed once."""
    accepted = parse_accept_header(accept_encoding)
    quality, _, encoding = max(
        (accepted[encoding], encoding == "br", encoding) for encoding in ENCODINGS
    )
    return encoding if quality > 0 else None


def compressed(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY)
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def variant_etag(etag: str, encoding: str | None) -> str:
    """The ETag of a representation: the identity body's, marked with its encoding."""
    return f"{etag}-{encoding}" if encoding else etag


def compress_response(response: Response) -> Response:
    """An ``after_request`` hook: a view's JSON or text body, compressed when the client asks
    and it is worth it (HEAD too: it says what GET would send). Bodies already encoded (the
    widget's files, rendered documents) and streams (exports, written as they are read) pass
    as they are."""
    headers = response.headers
    if (
        not 200 <= response.status_code < 300
        or "Content-Encoding" in headers
        # Its maker chose the encoding already (``Rendered`` documents say so in Vary).
        or "Accept-Encoding" in headers.get("Vary", "")
        or response.direct_passthrough
        or response.is_streamed
        or response.mimetype not in COMPRESSED_MEDIA_TYPES
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_COMPRESSED_BYTES:
        return response
    add_vary(headers, "Accept-Encoding")
    encoding = chosen_encoding(request.headers.get("Accept-Encoding", ""))
    if encoding is None:
        return response
    response.set_data(compressed(body, encoding))
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(variant_etag(etag, encoding), weak=weak)
        response.make_conditional(request)
    return response
