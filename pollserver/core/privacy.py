"""What pollserver keeps about a reader, and how: tokens and address hashes, never raw values.

- A respondent token is 192 random bits the server issues; only its SHA-256 is stored. Moderation
  API tokens are stored the same way.
- A client address is only ever kept as a keyed hash: HMAC-SHA256 under a secret that changes
  every day (``pollserver.services.address_salts`` for stored hashes, the rate limiter's daily
  key for its counters). Once that day's secret is gone, no one, us included, can tell which
  address a hash came from, even by trying every IPv4 address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

RESPONDENT_TOKEN_BYTES = 24


def new_respondent_token() -> str:
    return secrets.token_urlsafe(RESPONDENT_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What is stored of a token (a reader's or a moderator's): its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def address_hash(address: str, key: bytes) -> str:
    """The client address under the day's key: groups one day's requests, never identifies."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def daily_key(secret: str, purpose: str, day: str) -> bytes:
    """A key for one purpose and one UTC day, derived from a long-lived secret."""
    return hmac.new(secret.encode(), f"{purpose}:{day}".encode(), hashlib.sha256).digest()
