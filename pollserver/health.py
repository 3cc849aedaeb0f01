"""Liveness (``/livez``) and readiness with the database (``/healthz``) for load balancers."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from pollserver.database import check_database
from pollserver.errors import error_payload
from pollserver.extensions import limiter

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/livez")
@limiter.exempt
def livez():
    """The process answers: no database, no limiter. Also the benchmark's ceiling."""
    return jsonify({"status": "ok"})


@bp.get("/healthz")
@limiter.exempt
def healthz():
    try:
        check_database()
    except SQLAlchemyError as error:
        log.warning("health check: database unreachable (%s)", type(error).__name__)
        reason = f"unreachable: {type(error).__name__}"
        body = {"status": "unavailable", "database": reason}
        body.update(error_payload(503, f"The database is {reason}"))
        response = jsonify(body)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify({"status": "ok", "database": "ok"})
