"""A WSGI app that tells what it was given, served by tests/e2e/test_wsgi_over_rsgi.py."""

from __future__ import annotations

import json
import time

from pollserver.wsgi_over_rsgi import WsgiOverRsgi

STREAMED_CHUNKS = 64
CHUNK = b"x" * 8192


def echo(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or 1))
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return StreamedBody()
    body = environ["wsgi.input"].read()
    seen = {
        key: value for key, value in environ.items() if key.isupper() and isinstance(value, str)
    }
    seen["body"] = body.decode("latin-1")
    seen["url_scheme"] = environ["wsgi.url_scheme"]
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Echo", "yes")])
    return [json.dumps(seen).encode()]


class StreamedBody:
    """A body longer than the bridge buffers, whose close() is recorded (PEP 3333)."""

    closed = 0

    def __iter__(self):
        for _ in range(STREAMED_CHUNKS):
            yield CHUNK

    def close(self):
        StreamedBody.closed += 1
        print("stream closed", flush=True)


def make():
    return WsgiOverRsgi(echo, threads=2, body_timeout=5, max_body_bytes=1_000_000)
