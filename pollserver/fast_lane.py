"""The few requests every reader makes, answered without Flask's request cycle.

Every page view of an article with a poll loads ``/widget.js`` and the poll document; every
click posts an answer; the last one reads the results. Profiled under load (bench/RESULTS.md),
Flask's machinery around the view (the request context, routing, every blueprint's hooks,
flask-limiter's resolution of which limits apply, webargs) cost more than half of an answer's
CPU and most of a read's. This WSGI middleware sits in front of the Flask app and answers those
requests in their common case itself, with the same functions the views use (one rule, one
place: ``pollserver.api.public`` for answers, CORS, caching and documents,
``pollserver.pages.widget_files`` for the widget's file, ``pollserver.rate_limits`` for the
limits, ``pollserver.error_handlers`` for refusals), and the same guarantees.

Anything else steps aside to the Flask app, untouched and before anything is counted or written:
other paths and methods, query strings, a reader's token on a read, a document or results not in
this process's memory, hidden results, an origin the poll refuses, a body that is not small
valid JSON of the answer's schema, meta limits, or rate limits running on flask-limiter's
in-memory fallback (which flask-limiter itself recovers from). Those answers come from the
views as before, so every error has the one shape and flask-limiter counts them as before.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import parse_etags
from werkzeug.wsgi import get_host

from pollserver.api.public import (
    ANSWER_BODY_LIMIT_BYTES,
    ANSWER_CACHE_CONTROL,
    RESPONDENT_HEADER,
    add_read_headers,
    allowed_origins,
    apply_cross_origin_headers,
    document_response,
    is_refused_origin,
    poll_documents,
    poll_facts,
    poll_origins,
    record_answer,
    why_results_are_hidden,
)
from pollserver.api.schemas import AnswerRequestSchema
from pollserver.core.lifecycle import is_published
from pollserver.core.refusals import Refused
from pollserver.error_handlers import refusal_response, unexpected_error_response
from pollserver.errors import RATE_LIMITED_MESSAGE, json_error, rate_limited_details
from pollserver.extensions import limiter
from pollserver.metrics import metrics_of, observe_request
from pollserver.pages import widget_files
from pollserver.rate_limits import (
    ANSWERS_ENDPOINT,
    address_of,
    hit_answer_limits,
    retry_after_seconds,
)
from pollserver.request_json import loads_bounded
from pollserver.response_headers import add_common_headers
from pollserver.results_cache import cached_results_json
from pollserver.widget_build import WIDGET

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Matched whole (fullmatch: "$" would let a path end in a newline); the poll id as Flask's
# default converter takes it.
POLL_PATH = re.compile(r"/api/v1/polls/([^/]+)(/answers|/results)?")
WIDGET_PATH = f"/{WIDGET}"
# The endpoints these requests have in the Flask app: metrics count them under the same names.
POLL_ENDPOINT = "polls.PublicPoll"
RESULTS_ENDPOINT = "polls.PollResults"
WIDGET_ENDPOINT = "embed.widget_js"
JSON_MEDIA_TYPE = "application/json"
RESPONDENT_ENVIRON_KEY = "HTTP_" + RESPONDENT_HEADER.upper().replace("-", "_")

# Limits flask-limiter may apply to these requests besides the answers' own (reads from memory
# are exempt from all; see ``answered_from_memory``).
# With RATELIMIT_HEADERS_ENABLED, flask-limiter adds X-RateLimit-* headers the lane does not.
OTHER_LIMITS = (
    "RATELIMIT_DEFAULT",
    "RATELIMIT_APPLICATION",
    "RATELIMIT_META",
    "RATELIMIT_HEADERS_ENABLED",
)
# One instance: marshmallow builds a schema's fields once.
answer_schema = AnswerRequestSchema()


class Unusual(Exception):
    """The request is not one this lane answers: the Flask app will."""


class FastLane:
    def __init__(self, app: Flask, flask_wsgi_app: WSGIApp):
        self.app = app
        self.flask_wsgi_app = flask_wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        answer = None
        try:
            if method == "POST":
                match = POLL_PATH.fullmatch(path)
                if match and match[2] == "/answers":
                    answer = self.answer(environ, match[1])
            elif method == "GET" and not environ.get("QUERY_STRING"):
                if path == WIDGET_PATH:
                    answer = self.widget(environ)
                else:
                    match = POLL_PATH.fullmatch(path)
                    if match and match[2] != "/answers":
                        answer = self.read_from_memory(environ, match[1], match[2])
        except Unusual:
            answer = None
        if answer is None:
            return self.flask_wsgi_app(environ, start_response)
        endpoint, response = answer
        add_common_headers(
            response.headers, self.app.config, secure=environ["wsgi.url_scheme"] == "https"
        )
        metrics = metrics_of(self.app)
        if metrics is not None:
            observe_request(metrics, method, endpoint, response.status_code, started)
        return response(environ, start_response)

    # --- answers ----------------------------------------------------------------------------

    def answer(self, environ: dict[str, Any], poll_id: str) -> tuple[str, Response] | None:
        # flask-limiter keeps no public flag for its fallback; its private one is the truth.
        if limiter.enabled and (limiter._storage_dead or self.other_limits_apply()):
            return None
        body = answer_body(environ)
        origin = environ.get("HTTP_ORIGIN")
        with self.app.app_context():
            try:
                allowed = allowed_origins(poll_id)
            except SQLAlchemyError:  # the database is down: the view says so (503)
                return None
            if self.refuses(environ, origin, allowed):
                return None
            address = address_of(environ)
            try:
                response = self.refused_over_limit(address) or record_answer(
                    poll_id, body, address, environ.get("HTTP_ACCEPT_ENCODING", "")
                )
            except Unusual:
                return None
            except Refused as refusal:
                response = refusal_response(refusal)
            except Exception as error:
                response = unexpected_error_response(error)
            response.headers["Cache-Control"] = ANSWER_CACHE_CONTROL
            apply_cross_origin_headers(response, origin, allowed, "POST")
        return ANSWERS_ENDPOINT, response

    def refuses(self, environ: dict[str, Any], origin: str | None, allowed: list[str]) -> bool:
        # Where the service's own pages are is worked out only when a page's origin must be
        # checked against a poll that names its origins, not for every request.
        return bool(origin and allowed) and is_refused_origin(
            origin, allowed, own_urls(self.app, environ)
        )

    def other_limits_apply(self) -> bool:
        """Whether limits beyond the answers' own are configured: flask-limiter applies those."""
        config = self.app.config
        return any(config.get(name) for name in OTHER_LIMITS)

    def refused_over_limit(self, address: str) -> Response | None:
        """The 429 flask-limiter would send, or None when the answer is within its limits."""
        if not limiter.enabled:
            return None
        try:
            breached = hit_answer_limits(
                limiter, address, self.app.config["SECRET_KEY"], ANSWERS_ENDPOINT
            )
        except Exception as error:  # the storage's own errors (limits does not wrap them)
            # flask-limiter will meet the same error and switch to its in-memory fallback.
            raise Unusual from error
        if not breached:
            return None
        # As flask-limiter answers: the shortest breached window names the limit, the last
        # breached callback's Retry-After (the longest window) says when to come back.
        return json_error(
            429,
            RATE_LIMITED_MESSAGE,
            rate_limited_details(str(breached[0].limit)),
            {"Retry-After": str(retry_after_seconds(breached[-1]))},
        )

    # --- reads from memory ------------------------------------------------------------------

    def read_from_memory(
        self, environ: dict[str, Any], poll_id: str, part: str | None
    ) -> tuple[str, Response] | None:
        if environ.get(RESPONDENT_ENVIRON_KEY):
            return None
        origin = environ.get("HTTP_ORIGIN")
        allowed = poll_origins.get(poll_id)
        if allowed is None or self.refuses(environ, origin, allowed):
            return None
        if part is None:
            endpoint, document = POLL_ENDPOINT, poll_documents.get(poll_id)
        else:
            facts = poll_facts.get(poll_id)
            if facts is None or not is_published(facts):
                return None
            if why_results_are_hidden(facts, None) is not None:
                return None
            endpoint, document = RESULTS_ENDPOINT, cached_results_json(facts)
        if document is None:
            return None
        with self.app.app_context():
            response = document_response(
                document,
                read=True,
                if_none_match=if_none_match(environ),
                accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
            )
            add_read_headers(response, endpoint, with_respondent=False)
        apply_cross_origin_headers(response, origin, allowed, "GET")
        return endpoint, response

    def widget(self, environ: dict[str, Any]) -> tuple[str, Response] | None:
        if limiter.enabled and self.other_limits_apply():
            return None
        try:
            built = widget_files.built_file(WIDGET)
        except Exception:  # a failed build: the view reports it
            return None
        response = widget_files.file_response(
            built,
            immutable=False,
            accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
            if_none_match=if_none_match(environ),
        )
        return WIDGET_ENDPOINT, response


def answer_body(environ: dict[str, Any]) -> dict:
    """The answer's body, loaded by its schema. A body this lane does not take is put back for
    the Flask app to read (and refuse with its own words)."""
    media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        raise Unusual from None
    if media_type != JSON_MEDIA_TYPE or not 0 < length <= ANSWER_BODY_LIMIT_BYTES:
        raise Unusual
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        # UTF-8 only, as the view reads it (json.loads would also guess UTF-16 from bytes).
        return answer_schema.load(loads_bounded(raw.decode("utf-8")))
    except (ValueError, ValidationError):  # ValueError: bad JSON, UTF-8 or nesting
        raise Unusual from None


def own_urls(app: Flask, environ: dict[str, Any]) -> tuple[str, str]:
    """Where the service's own pages are: its public URL, and ``request.host_url`` of Flask."""
    return (
        app.config["POLLSERVER_PUBLIC_URL"],
        f"{environ['wsgi.url_scheme']}://{get_host(environ)}/",
    )


def if_none_match(environ: dict[str, Any]):
    value = environ.get("HTTP_IF_NONE_MATCH")
    return parse_etags(value) if value is not None else None
