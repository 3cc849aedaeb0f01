"""Proof of work: what a new reader beyond the daily cap, or during a surge, pays instead of a no.

Refusing new readers beyond a per-address cap refuses real people behind a mobile carrier's or an
office's shared address, and does not slow anyone with many addresses at all. So beyond the cap,
and for everyone new on a poll whose new readers surge, the server asks for a little work
instead: a challenge it signed, single-use, that the browser answers in about a second.

The work is PBKDF2-HMAC-SHA256 from the browser's Web Crypto: find a nonce such that
``PBKDF2(password=challenge, salt=nonce, iterations)`` starts with ``bits`` zero bits. One call
runs ``iterations`` rounds of SHA-256 natively, so a reader's browser works at the speed an
attacker's own CPU code would, where one ``digest()`` call per hash would leave the browser far
behind (bench/RESULTS.md, "Proof of work"). The server checks a proof with one such call.

A challenge is ``{bits}.{iterations}.{expires}.{salt}.{mac}``: the work asked, until when it
may be answered (Unix seconds), a random salt that makes it unique (and names it once spent),
and an HMAC over those and the poll's id, so no client can ease or move its own challenge.
Nothing about the reader is in it, and nothing about them is kept (the spent salts expire with
their challenges).

Pure: the caller supplies the secret, the time and where spent challenges are remembered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass

# What a 429 asking for work says in ``details.reason``.
PROOF_OF_WORK_REASON = "proof_of_work"
# Rounds of SHA-256 (PBKDF2 iterations) per try: enough that the browser's per-call overhead is
# small beside the work, few enough that the server's check costs well under a millisecond.
ITERATIONS = 1000
CHALLENGE_SECONDS = 300  # time to answer a challenge: many times the work, for slow phones
# The most work asked beyond the base: 16 times, about 15 seconds on a mid-range phone.
MAX_EXTRA_BITS = 4
MAX_BITS = 24
SALT_BYTES = 12
MAC_BYTES = 16
NONCE = re.compile(r"[0-9]{1,16}")
# bits.iterations.expires.salt.mac (also the API schema's pattern: no Python-only syntax).
CHALLENGE = re.compile(r"[0-9]{1,2}\.[0-9]{1,7}\.[0-9]{1,12}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}")
MAC_PURPOSE = b"pollserver proof-of-work challenge"


@dataclass(frozen=True)
class Challenge:
    bits: int
    iterations: int
    expires: int  # Unix seconds
    salt: str  # unique to this challenge: what names it once spent


class ProofNotAccepted(Exception):
    """A proof that does not stand: ``reason`` is one of "malformed", "forged", "expired",
    "insufficient" or "spent"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def issue_challenge(
    secret: str, poll_id: str, bits: int, now: float, *, iterations: int = ITERATIONS
) -> str:
    """A new challenge asking ``bits`` bits of work for an answer to ``poll_id``."""
    salt = base64.urlsafe_b64encode(secrets.token_bytes(SALT_BYTES)).decode()
    fields = f"{bits}.{iterations}.{int(now) + CHALLENGE_SECONDS}.{salt}"
    return f"{fields}.{_mac(secret, poll_id, fields)}"


def check_proof(secret: str, poll_id: str, challenge: str, nonce: str, now: float) -> Challenge:
    """The challenge a proof answers, once it stands: issued by this server for this poll, not
    expired, and worked. Whether it was spent before is the caller's to ask (it takes storage).
    Raises :class:`ProofNotAccepted`."""
    if CHALLENGE.fullmatch(challenge) is None or NONCE.fullmatch(nonce) is None:
        raise ProofNotAccepted("malformed")
    fields, mac = challenge.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, poll_id, fields)):
        raise ProofNotAccepted("forged")
    bits, iterations, expires, salt = fields.split(".")
    found = Challenge(int(bits), int(iterations), int(expires), salt)
    if found.expires < now:
        raise ProofNotAccepted("expired")
    if leading_zero_bits(work(challenge, nonce, found.iterations)) < found.bits:
        raise ProofNotAccepted("insufficient")
    return found


def work(challenge: str, nonce: str, iterations: int) -> bytes:
    """One try: what the browser computes with Web Crypto's PBKDF2 (see the module docstring)."""
    return hashlib.pbkdf2_hmac("sha256", challenge.encode(), nonce.encode(), iterations, 32)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(challenge: str) -> str:
    """A nonce that answers ``challenge``: what the widget does, for tests and the bench."""
    if CHALLENGE.fullmatch(challenge) is None:
        raise ValueError(f"not a challenge: {challenge!r}")
    bits, iterations = (int(field) for field in challenge.split(".")[:2])
    nonce = 0
    while leading_zero_bits(work(challenge, str(nonce), iterations)) < bits:
        nonce += 1
    return str(nonce)


def bits_beyond_cap(started_today: int, cap: int, base_bits: int) -> int:
    """The work a new reader from an address owes once ``started_today`` readers came from it
    today: none under the cap, the base at it, one bit (twice the work) more for every fourfold
    beyond it, up to ``MAX_EXTRA_BITS`` more. An office sharing one address pays a second or
    two; a farm of fake readers behind one pays more for each thousand than the last."""
    if base_bits <= 0 or started_today < cap:
        return 0
    fold = (started_today + 1) / max(cap, 1)
    return base_bits + min(MAX_EXTRA_BITS, max(0, int(math.log(fold, 4))))


def bits_for_surge(busiest_minute: int, readers_per_minute: int, base_bits: int) -> int:
    """The work every new reader of a poll owes while its new readers surge: none below
    ``readers_per_minute`` (0: never), the base at it, one bit more for every doubling beyond,
    up to ``MAX_EXTRA_BITS`` more. ``busiest_minute``: the most new readers the poll had in one
    minute of the last few (``pollserver.services.proof_of_work``), so the work stays raised for
    a while after a spike."""
    if base_bits <= 0 or readers_per_minute <= 0 or busiest_minute < readers_per_minute:
        return 0
    doublings = int(math.log2(busiest_minute / readers_per_minute))
    return base_bits + min(MAX_EXTRA_BITS, doublings)


def expected_tries(bits: int) -> int:
    return 2**bits


def _mac(secret: str, poll_id: str, fields: str) -> str:
    key = hmac.new(secret.encode(), MAC_PURPOSE, hashlib.sha256).digest()
    mac = hmac.new(key, f"{poll_id}\n{fields}".encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
