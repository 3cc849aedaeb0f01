"""Extensions created unbound here and bound to an app in ``create_app``.

Keeping them module-level lets blueprints import ``db`` or ``limiter`` without importing the app.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import math
import time

from flask import current_app, request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from pollserver import rate_limit_storage  # noqa: F401  (registers the memory:// storage)
from pollserver.errors import JsonErrorApi

# Named constraints so Alembic can drop and alter them on every backend
# (SQLite's batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def client_address() -> str:
    """The client's address: the peer, or the proxy-reported client via ProxyFix."""
    return request.remote_addr or "unknown"


def rate_limit_key() -> str:
    """What rate limits count by: the client address, keyed-hashed so that no raw address sits
    in the limit storage (Redis). The key changes every UTC day and comes from SECRET_KEY;
    counters live at most a day, so nothing links them to an address for longer."""
    day = dt.datetime.now(dt.UTC).date().isoformat()
    daily_key = rate_limit_daily_key(current_app.config["SECRET_KEY"], day)
    return hmac.new(daily_key, client_address().encode(), hashlib.sha256).hexdigest()[:32]


@functools.lru_cache(maxsize=4)
def rate_limit_daily_key(secret_key: str, day: str) -> bytes:
    return hmac.new(secret_key.encode(), f"rate-limit:{day}".encode(), hashlib.sha256).digest()


# Objects stay readable after commit without a reload query: each request commits once and then
# only reads what it just wrote to build its reply.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
api = JsonErrorApi()


def count_breach(request_limit) -> None:
    """Count each 429 by the limit that caused it (the response itself is flask-limiter's)."""
    from pollserver.metrics import count_rate_limited

    count_rate_limited(str(request_limit.limit))


limiter = Limiter(rate_limit_key, on_breach=count_breach)


def public_limit() -> str:
    """The limit on public reads per address (config, read per request so tests may change it)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def seconds_until_limit_resets() -> int:
    """Retry-After for the limit this request broke. flask-limiter only sends it along with its
    X-RateLimit-* headers, which cost a second storage round trip on every request."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    reset_time, _remaining = breached.window
    return max(1, math.ceil(reset_time - time.time()))
