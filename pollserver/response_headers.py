"""Headers every response carries, whichever part of the app (or the fast lane) made it.

- ``X-Content-Type-Options: nosniff``: a browser never reads a JSON reply, a CSV export or the
  results picture as anything but what its Content-Type says.
- ``Strict-Transport-Security`` on responses sent over HTTPS (directly, or behind trusted
  proxies that say so), for ``POLLSERVER_HSTS_SECONDS`` (0: not sent): once a browser has
  reached pollserver over HTTPS, it never falls back to plain HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from werkzeug.datastructures import Headers


def add_vary(headers: Headers, name: str) -> None:
    """Add ``name`` to ``Vary``. By hand, not through ``Response.vary``: that parses the header
    into a set and writes it back, several microseconds on the paths that serve from memory."""
    present = headers.get("Vary")
    if not present:
        headers["Vary"] = name
    elif name.lower() not in {token.strip().lower() for token in present.split(",")}:
        headers["Vary"] = f"{present}, {name}"


def add_common_headers(headers: Headers, config: Mapping[str, Any], *, secure: bool) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    hsts_seconds = config["POLLSERVER_HSTS_SECONDS"]
    if secure and hsts_seconds:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_seconds}")


def init_app(app: Flask) -> None:
    @app.after_request
    def common_headers(response):
        add_common_headers(response.headers, app.config, secure=request.is_secure)
        return response
