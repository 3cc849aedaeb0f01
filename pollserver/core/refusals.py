"""The one way a rule says no: a :class:`Refused` carrying the HTTP status it stands for.

Services raise it; ``pollserver.error_handlers`` translates it, once, into the one JSON error
shape (an entrypoint that expects one, such as the moderation page's invalid status change,
catches it to say so its own way), as superset's ``commands/exceptions.py`` lets its errors
carry their status.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request a rule refuses, with the status, message and details a client is shown."""

    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after  # seconds, for a 429 or 503 the client may retry
