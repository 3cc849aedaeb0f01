"""What pollserver keeps about a reader, and how: tokens and address hashes, never raw values.

- A respondent token is 192 bits the server issues; only its SHA-256 is stored. Moderation
  API tokens are stored the same way. A new reader's token is random, unless their first answer
  comes with a request key (a random idempotency key the widget keeps per browser and poll):
  then it is an HMAC of the key under the server's secret, so a retried or repeated first answer
  names the same reader, and no one can compute the token without both the key and the secret.
- A client address is only ever kept as a keyed hash: HMAC-SHA256 under a secret that changes
  every day (``pollserver.services.address_salts`` for stored hashes: a salt kept only in
  memory or Redis, never in the database; the rate limiter's daily key for its counters). Once
  that day's secret is gone, no one, us included, can tell which address a hash came from, even
  by trying every IPv4 address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

RESPONDENT_TOKEN_BYTES = 24
# A client's request key, as the API accepts it: 16 to 64 URL-safe characters (the widget sends
# 128 random bits as four decimal numbers joined by "_").
REQUEST_KEY = r"[A-Za-z0-9_-]{16,64}"
REQUEST_KEY_PURPOSE = "respondent-token-for-request-key"


def new_respondent_token() -> str:
    return secrets.token_urlsafe(RESPONDENT_TOKEN_BYTES)


def respondent_token_for_key(secret: str, public_id: str, version: int, request_key: str) -> str:
    """The token of the reader whose first answer to this version of the poll carried
    ``request_key``: the same whenever the key comes back, unrelated for another poll or version
    (a new version starts new readers), and shaped like a random token.

    Public ids and request keys are URL-safe characters, so ``:`` separates the parts
    unambiguously.
    """
    message = f"{REQUEST_KEY_PURPOSE}:{public_id}:{version}:{request_key}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:RESPONDENT_TOKEN_BYTES]).decode()


def hash_token(token: str) -> str:
    """What is stored of a token (a reader's or a moderator's): its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def address_hash(address: str, key: bytes) -> str:
    """The client address under the day's key: groups one day's requests, never identifies."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def daily_key(secret: str, purpose: str, day: str) -> bytes:
    """A key for one purpose and one UTC day, derived from a long-lived secret."""
    return hmac.new(secret.encode(), f"{purpose}:{day}".encode(), hashlib.sha256).digest()
