"""A WSGI app that tells what it was given, served by tests/e2e/test_wsgi_over_rsgi.py; under
/flask/, a Flask app whose streamed body needs its request context."""

from __future__ import annotations

import json
import sys
import time

from flask import Flask, g, request, stream_with_context

from pollserver.wsgi_over_rsgi import WsgiOverRsgi

STREAMED_CHUNKS = 64
CHUNK = b"x" * 8192

flask_app = Flask(__name__)


@flask_app.get("/flask/export")
def export():
    g.owner = "export"

    def rows():
        for number in range(STREAMED_CHUNKS):
            # The request context must be this request's on whichever thread runs the chunk
            # (slowly enough that other requests take turns on the pool's threads meanwhile).
            time.sleep(0.01)
            yield f"{request.path},{g.owner},{number}".ljust(8191).encode() + b"\n"

    return flask_app.response_class(stream_with_context(rows()), mimetype="text/csv")


@flask_app.get("/flask/g")
def what_g_holds():
    return {"g": dict(vars(g)), "path": request.path}


def echo(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/flask/"):
        return flask_app(environ, start_response)
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or 1))
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return StreamedBody()
    if path == "/forgets-to-start":
        return [b"no status, no headers"]
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

    def __iter__(self):
        for _ in range(STREAMED_CHUNKS):
            yield CHUNK

    def close(self):
        print("stream closed", flush=True)


def make():
    return WsgiOverRsgi(
        echo, threads=2, body_timeout=5, max_body_bytes=1_000_000, access_log=sys.stdout
    )
