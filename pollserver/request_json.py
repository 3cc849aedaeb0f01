"""JSON request bodies, parsed with bounded nesting wherever they are read.

Python's parser recurses once per level: a body of a thousand ``[`` ran out of recursion and
reached the client as a 500. Here every body is held to ``MAX_JSON_DEPTH`` levels (no document
of the API needs more than a handful) and anything deeper is refused as invalid JSON (400), by
the one parse that all three readers share: Flask's ``request.get_json`` (the app's JSON
provider), flask-smorest's arguments (webargs' parser) and the fast lane.
"""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


def loads_bounded(data: str | bytes) -> Any:
    """``json.loads``, refusing documents nested deeper than ``MAX_JSON_DEPTH`` (ValueError)."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None
    if nesting_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(TOO_DEEP)
    return value


def nesting_depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (a scalar: 0), without recursion."""
    deepest = 0
    level = [value]
    while level:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            break
        deepest += 1
        if deepest > MAX_JSON_DEPTH:
            break  # deeper than anyone may go: no need to walk the rest
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return deepest


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON: ``request.get_json`` refuses a body nested too deep as invalid JSON."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_bounded(s)


class BoundedJsonParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with bounded nesting (400 when deeper)."""

    def _raw_load_json(self, req) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
            return loads_bounded(text)
        except json.JSONDecodeError:
            raise
        except ValueError as error:  # too deep, or not UTF-8: webargs' 400 for invalid JSON
            raise json.JSONDecodeError(str(error), doc=repr(data[:40]), pos=0) from None
