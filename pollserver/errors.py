"""One JSON error shape for every error the service returns.

    {"error": {"code": 404, "status": "Not Found", "message": "…", "details": {…}}}

flask-smorest's ``Api`` already turns every ``HTTPException`` into JSON; ``JsonErrorApi`` gives it
our shape. What is not an ``HTTPException`` is handled in ``pollserver.error_handlers``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_limiter import RateLimitExceeded
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from pollserver.core.refusals import flat_field_errors

# What a 429 from one of flask-limiter's limits says in ``details.reason``; the daily cap of new
# readers says "daily_cap" (``pollserver.services.answering``), so a client can tell them apart.
RATE_LIMIT_REASON = "rate_limit"


RATE_LIMITED_MESSAGE = "Too many requests from your network; try again later."

# Where webargs found what it refuses; field errors are named without it.
WEBARGS_LOCATIONS = frozenset({"json", "query", "form", "files", "headers", "cookies", "path"})


def rate_limited_details(limit: str) -> dict[str, str]:
    """``details`` of a 429 from a rate limit: the reason and the limit, e.g. "30 per 1 minute"."""
    return {"reason": RATE_LIMIT_REASON, "limit": limit}


class ErrorDetailsSchema(ma.Schema):
    """``details``: one shape for every error. Each key is there only where it applies."""

    reason = ma.fields.String(
        metadata={
            "description": "Why, in a word a program can test, where the status alone does not "
            'say: "rate_limit", "daily_cap", "proof_of_work", "origin_not_allowed", '
            '"unknown_respondent" (forget the token and start afresh), "edited_on_the_desk"'
        }
    )
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "The request's fields that are not valid, by dotted path "
            '(`{"proof.nonce": ["…"]}`, `{"nodes.q2.yes": ["…"]}`); `_schema`: the request '
            "as a whole"
        },
    )
    limit = ma.fields.String(metadata={"description": 'The limit reached, e.g. "30 per 1 minute"'})
    status = ma.fields.String(metadata={"description": "The poll's status, which refuses this"})
    expected = ma.fields.String(
        allow_none=True,
        metadata={"description": "The reader's current question; null once their path ended"},
    )
    respondent = ma.fields.String(
        metadata={"description": "The reader's token (a retried first answer: 409)"}
    )
    node = ma.fields.String(metadata={"description": "The question already answered"})
    answer = ma.fields.String(metadata={"description": "The answer it was given"})
    version = ma.fields.Integer(metadata={"description": "The version the request named"})
    live_version = ma.fields.Integer(metadata={"description": "The version readers see now"})
    draft_version = ma.fields.Integer(metadata={"description": "The draft waiting to be edited"})
    polls = ma.fields.List(ma.fields.String(), metadata={"description": "The polls at issue"})
    origin = ma.fields.List(ma.fields.String(), metadata={"description": "The refused origin"})
    role = ma.fields.String(metadata={"description": "The token's role"})
    needs = ma.fields.List(ma.fields.String(), metadata={"description": "Roles that may"})
    why = ma.fields.String(
        metadata={"description": 'Why work is asked: "beyond_daily_cap" or "surge"'}
    )
    difficulty = ma.fields.Integer(metadata={"description": "Leading zero bits the proof needs"})
    challenge = ma.fields.String(metadata={"description": "To send back with a proof"})
    algorithm = ma.fields.String(metadata={"description": '"PBKDF2-HMAC-SHA256"'})
    iterations = ma.fields.Integer(metadata={"description": "PBKDF2 iterations"})
    expires_in = ma.fields.Integer(metadata={"description": "Seconds the challenge is good for"})
    proof = ma.fields.String(
        metadata={
            "description": "Why a proof was not taken: expired, spent, insufficient, forged, "
            "malformed"
        }
    )

    class Meta:
        # Specifics not listed here may follow; a client keeps what it does not know.
        unknown = ma.INCLUDE


class ErrorBodySchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    details = ma.fields.Nested(
        ErrorDetailsSchema,
        required=True,
        metadata={"description": "Specifics of the error; may be empty"},
    )


class ErrorResponseSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


def error_payload(code: int, message: str | None = None, details: Any = None) -> dict:
    status = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
    return {
        "error": {
            "code": code,
            "status": status,
            "message": message or status,
            "details": details
            if isinstance(details, dict)
            else ({} if details is None else {"fields": flat_field_errors(details)}),
        }
    }


def json_error(code: int, message: str | None = None, details: Any = None, headers=None):
    response = jsonify(error_payload(code, message, details))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def describe_http_exception(error: HTTPException) -> tuple[str, Any, dict]:
    """Message, details and extra headers for an HTTPException, however it was raised."""
    if isinstance(error, RateLimitExceeded):
        # Its description is the bare limit ("30 per 1 minute"); Retry-After says when.
        return RATE_LIMITED_MESSAGE, rate_limited_details(str(error.limit.limit)), {}
    data = getattr(error, "data", None) or {}
    details = data.get("errors") or data.get("details")
    if data.get("messages"):
        # webargs' field errors, nested by location ("json", "query"): the location is left
        # out, as the operation says where each parameter goes.
        messages = data["messages"]
        if isinstance(messages, dict) and set(messages) <= WEBARGS_LOCATIONS:
            messages = list(messages.values())
        details = {"fields": flat_field_errors(messages)}
    message = data.get("message")
    if message is None:
        if details:
            message = "The request was not valid; see details."
        else:
            message = error.description or error.name
    headers = dict(data.get("headers") or {})
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return message, details, headers


class JsonErrorApi(Api):
    """flask-smorest ``Api`` whose error responses use pollserver's one error shape."""

    ERROR_SCHEMA = ErrorResponseSchema

    def handle_http_exception(self, error: HTTPException):
        message, details, headers = describe_http_exception(error)
        response = error.get_response()  # keeps headers the exception carries (Retry-After…)
        payload = error_payload(error.code or 500, message, details)
        out = jsonify(payload)
        out.status_code = error.code or 500
        for name, value in response.headers.items():
            if name.lower() not in {"content-type", "content-length"}:
                out.headers[name] = value
        for name, value in headers.items():
            out.headers[name] = value
        return out
