"""The shapes of the ids and tokens the service hands out or accepts, each written once.

Patterns without anchors; :func:`anchored` gives the ``^…$`` form marshmallow validators and
filters use, :func:`matches` the full-match test (``$`` would also match before a final newline).
"""

from __future__ import annotations

import re

# A poll's public id: 8 URL-safe characters today; up to 16 accepted.
PUBLIC_ID = r"[A-Za-z0-9_-]{1,16}"
# A node's id within a definition.
NODE_ID = r"[A-Za-z0-9_-]{1,32}"
# A respondent token, as the widget sends it back.
RESPONDENT_TOKEN = r"[A-Za-z0-9_-]{16,128}"
# A daily address hash (HMAC-SHA256, hex), as moderators see it.
ADDRESS_HASH = r"[0-9a-f]{64}"
# A moderation token's name.
TOKEN_NAME = r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,79}"
# An audit action, or a family of them ending in ".".
AUDIT_ACTION = r"[a-z_.]{1,64}"


# The most of a requested id a message repeats back: a 5,000-character "id" is not echoed whole.
ECHOED_ID_LENGTH = 40


def echoed(identifier: str) -> str:
    """An id from a request as a message quotes it: ``'abc'``, cut short with "…" when long."""
    if len(identifier) > ECHOED_ID_LENGTH:
        identifier = identifier[:ECHOED_ID_LENGTH] + "…"
    return repr(identifier)


def anchored(pattern: str) -> str:
    return f"^{pattern}$"


def matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


# Compiled once: the public reads check every id they are given.
is_public_id = re.compile(PUBLIC_ID).fullmatch
