"""What the rate limits count by, their limit strings, and what a refused request is told.

The limiter itself is created once in ``pollserver.extensions`` and bound in the factory; its
limits are strings in config (``RATELIMIT_*``), checked at start by ``pollserver.config``.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import math
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from limits import RateLimitItem, parse_many

from pollserver.core.privacy import address_hash, daily_key
from pollserver.metrics import count_rate_limited
from pollserver.rate_limit_storage import acquire_sliding_windows, redis_client_for
from pollserver.services.address_salts import AddressSalts, SaltsInMemory, SaltsInRedis
from pollserver.services.proof_of_work import (
    NewReaderSurge,
    ProofOfWork,
    SpentInMemory,
    SpentInRedis,
)

RATE_LIMIT_KEY_PURPOSE = "rate-limit"
IPV6_CLIENT_PREFIX = 64  # what one IPv6 subscriber is given (RFC 6177)
RATE_LIMIT_KEY_LENGTH = 32  # hex characters of the keyed hash: ample to tell addresses apart
ANSWERS_ENDPOINT = "polls.PollAnswers"  # the answers' view: their limit's scope


def client_address() -> str:
    """The client's address: the peer, or the proxy-reported client via ProxyFix."""
    return address_of(request.environ)


def address_of(environ: dict) -> str:
    """The client as limits and the daily cap count it: an IPv4 address, or an IPv6 client's
    /64. One IPv6 subscriber (a home, a phone) is given a whole /64 and may use any address in
    it, so counting full addresses would let one client past every limit."""
    address = environ.get("REMOTE_ADDR") or "unknown"
    return client_network(address) if ":" in address else address


@functools.lru_cache(maxsize=4096)
def client_network(address: str) -> str:
    try:
        parsed = ipaddress.IPv6Address(address.split("%", 1)[0])  # without a zone ("%eth0")
    except ValueError:
        return address
    if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))


def rate_limit_key() -> str:
    """What rate limits count by: the client address, keyed-hashed so that no raw address sits
    in the limit storage (Redis). The key changes every UTC day and comes from SECRET_KEY;
    counters live at most a day, so nothing links them to an address for longer."""
    return rate_limit_key_for(client_address(), current_app.config["SECRET_KEY"])


def rate_limit_key_for(address: str, secret_key: str) -> str:
    day = dt.datetime.now(dt.UTC).date().isoformat()
    key = rate_limit_daily_key(secret_key, day)
    return address_hash(address, key)[:RATE_LIMIT_KEY_LENGTH]


@functools.lru_cache(maxsize=4)
def rate_limit_daily_key(secret_key: str, day: str) -> bytes:
    return daily_key(secret_key, RATE_LIMIT_KEY_PURPOSE, day)


def public_limit() -> str:
    """The limit on public reads per address (config, read per request so tests may change it)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def answers_limit() -> str:
    return current_app.config["RATELIMIT_ANSWERS"]


def auth_failure_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_FAILURES"]


@functools.lru_cache(maxsize=16)
def parsed_limits(limit_string: str) -> tuple[RateLimitItem, ...]:
    # Sorted as flask-limiter evaluates a request's limits.
    return tuple(sorted(parse_many(limit_string)))


def hit_answer_limits(
    limiter: Limiter, address: str, secret_key: str, endpoint: str
) -> list[RequestLimit]:
    """Count one answer against ``RATELIMIT_ANSWERS`` outside Flask's request cycle, on the very
    counters flask-limiter keeps for the answers' ``endpoint`` (the same keys, prefix and scope:
    flask-limiter scopes a blueprint's limits by endpoint), so answers counted here and by
    flask-limiter add up. Each breached limit is counted in the
    metrics, as flask-limiter's ``on_breach`` does. Returns the breached limits in flask-limiter's
    order (shortest window first): none when the answer may go ahead.

    For the common case only: with meta limits, or while flask-limiter runs on its in-memory
    fallback, the caller leaves the request to flask-limiter. A storage error propagates.
    """
    breached = hit_limits(
        limiter,
        answers_limit(),
        rate_limit_key_for(address, secret_key),
        endpoint,
        stop_at_first_breach=limiter._fail_on_first_breach,
    )
    for _request_limit in breached:
        count_rate_limited("answers")
    return breached


def hit_limits(
    limiter: Limiter, limit_string: str, key: str, scope: str, *, stop_at_first_breach: bool
) -> list[RequestLimit]:
    """Count one request against ``limit_string`` on flask-limiter's counters for ``key`` in
    ``scope`` (with its key prefix, as flask-limiter builds its keys); the limits it breached,
    shortest window first. A storage error propagates."""
    arguments = [key, scope]
    if limiter._key_prefix:  # flask-limiter's own rule for its keys
        arguments.insert(0, limiter._key_prefix)
    items = parsed_limits(limit_string)
    acquired = acquire_sliding_windows(
        limiter.limiter, items, arguments, stop_at_first_breach=stop_at_first_breach
    )
    return [
        RequestLimit(limiter, item, arguments, True, False)
        for item, within in zip(items, acquired, strict=True)
        if not within
    ]


def refuse_over_limit(breached: RequestLimit) -> Response:
    """Count each 429 by the name of the limit that caused it, and tell the client when to come
    back."""
    count_rate_limited(limit_name(breached))
    return retry_after_response(breached)


# flask-limiter's limits besides the answers', by the setting that holds their limit string.
LIMIT_SETTINGS = (
    ("public", "RATELIMIT_PUBLIC"),
    ("application", "RATELIMIT_APPLICATION"),
    ("default", "RATELIMIT_DEFAULT"),
)


def limit_name(breached: RequestLimit) -> str:
    """The name a breached flask-limiter limit is counted under: the answers' for an answer,
    else the setting's whose limit string holds it."""
    if request.method == "POST" and request.endpoint == ANSWERS_ENDPOINT:
        return "answers"
    for name, setting in LIMIT_SETTINGS:
        limit_string = current_app.config.get(setting)
        if (
            isinstance(limit_string, str)
            and limit_string
            and breached.limit in parsed_limits(limit_string)
        ):
            return name
    return "default"


def retry_after_response(breached: RequestLimit) -> Response:
    """The 429 that says when the breached limit lets the client in again.

    flask-limiter sends Retry-After only along with its X-RateLimit-* headers, which cost a
    second storage round trip on every request; the response returned here is the one the
    limiter's 429 carries (its body is replaced by the one JSON error shape). Meta limits
    (``RATELIMIT_META``) answer with it too, uncounted, as before.
    """
    return Response(status=429, headers={"Retry-After": str(retry_after_seconds(breached))})


def retry_after_seconds(breached: RequestLimit) -> int:
    reset_time, _remaining = breached.window
    return max(1, math.ceil(reset_time - time.time()))


ADDRESS_SALTS = "pollserver-address-salts"  # in app.extensions
# An answer waits on the salts' Redis client: a second at most, then the process's own salt.
SALTS_REDIS_TIMEOUTS = {"socket_timeout": 1, "socket_connect_timeout": 1}


PROOF_OF_WORK = "pollserver-proof-of-work"  # in app.extensions


def make_shared_state(app: Flask) -> None:
    """Give the app what its processes share beside the limits, once, as it is made (never by
    request threads: limits' storage factory checks its Redis dependency lazily and is not safe
    to run in several threads at once; it then failed with "redis 0.0.0"): the daily address
    salts (``pollserver.services.address_salts`` says why never the database), the spent
    proof-of-work challenges and each poll's surge of new readers. In Redis beside the limits
    when they are there, else in this process's memory."""
    config = app.config
    client = redis_client_for(
        config["RATELIMIT_STORAGE_URI"],
        {**SALTS_REDIS_TIMEOUTS, **(config.get("RATELIMIT_STORAGE_OPTIONS") or {})},
    )
    prefix = config["RATELIMIT_KEY_PREFIX"]
    salts = SaltsInRedis(client, prefix) if client else SaltsInMemory()
    app.extensions[ADDRESS_SALTS] = salts
    app.extensions[PROOF_OF_WORK] = ProofOfWork(
        config["SECRET_KEY"],
        SpentInRedis(client, prefix) if client else SpentInMemory(),
        NewReaderSurge(client, prefix),
        base_bits=lambda: config["POLLSERVER_PROOF_OF_WORK_BITS"],
        surge_per_minute=lambda: config["POLLSERVER_SURGE_READERS_PER_MINUTE"],
    )


def proof_of_work_of(app: Flask) -> ProofOfWork:
    return app.extensions[PROOF_OF_WORK]


def address_salts_of(app: Flask) -> AddressSalts:
    return app.extensions[ADDRESS_SALTS]


def address_pseudonym(app: Flask, address: str) -> str:
    """The address as stored hashes name it today: keyed with the day's salt, so that once the
    salt has expired nobody can tell which address it was."""
    today = dt.datetime.now(dt.UTC).date()
    return address_hash(address, address_salts_of(app).for_day(today))
