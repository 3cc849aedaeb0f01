"""The app's handlers for what is not an ``HTTPException``, all in the one JSON error shape:

- a :class:`~pollserver.core.refusals.Refused` from the services: its status, message and
  details, exactly as if the view had aborted with them (the one translation of refusals);
- a value the database refuses (400), a database that cannot be reached or has no connection
  free in time (503 with ``Retry-After``), anything unexpected (500, logged, never shown).
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pollserver.core.refusals import Refused
from pollserver.errors import json_error
from pollserver.extensions import db
from pollserver.metrics import count_database_error

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5


def refusal_response(refusal: Refused):
    """A refusal as the client sees it; whatever the request had begun is rolled back."""
    discard_failed_session()
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    return json_error(refusal.status, refusal.message, refusal.details or None, headers)


def is_database_unavailable(error: Exception) -> bool:
    # PoolTimeout: every pooled connection stayed busy for pool_timeout; a moment later one may
    # be free, so the client is told to retry, as for an outage.
    if isinstance(error, OperationalError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def unexpected_error_response(error: Exception):
    if isinstance(error, DataError):
        # A value the database refuses (a NUL byte, a number out of range) is bad input.
        discard_failed_session()
        return json_error(400, "The request holds a value the database cannot store.")
    if is_database_unavailable(error):
        count_database_error()
        log.warning("database unavailable: %s", type(error).__name__)
        discard_failed_session()
        return json_error(
            503,
            "The database is unavailable; try again shortly.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    log.exception("unhandled error")
    discard_failed_session()
    return json_error(500, "Something went wrong on our side; it has been logged.")


def discard_failed_session() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the pool will replace it
        log.debug("rollback after failure also failed", exc_info=True)


def init_app(app: Flask) -> None:
    app.register_error_handler(Refused, refusal_response)
    app.register_error_handler(Exception, unexpected_error_response)
