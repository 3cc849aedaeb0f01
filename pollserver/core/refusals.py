"""The one way a rule says no: a :class:`Refused` carrying the HTTP status it stands for.

Services raise it; ``pollserver.error_handlers`` translates it, once, into the one JSON error
shape (an entrypoint that expects one, such as the moderation page's invalid status change,
catches it to say so its own way), as superset's ``commands/exceptions.py`` lets its errors
carry their status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# ``details.reason`` of a reader's token the poll does not know (answers and progress): the
# client forgets it and starts the reader afresh.
UNKNOWN_READER_REASON = "unknown_respondent"

# The key of ``details.fields`` for a problem with the request as a whole, not one field of it
# (marshmallow's name for it).
WHOLE_REQUEST = "_schema"


def flat_field_errors(messages: Any, path: str = "") -> dict[str, list[str]]:
    """Field errors, however nested, as one flat map: dotted field path -> messages.

    marshmallow and webargs nest them by location ("json", "query"), nested schema and list
    index; clients get one shape (``details.fields``): ``{"proof.nonce": ["…"]}``,
    ``{"nodes.q2.yes": ["…"]}``, and problems with the whole request under ``_schema``.
    """
    flat: dict[str, list[str]] = {}

    def add(messages: Any, path: str) -> None:
        if isinstance(messages, Mapping):
            for key, value in messages.items():
                key = str(key)
                if key == WHOLE_REQUEST:
                    add(value, path)
                else:
                    add(value, f"{path}.{key}" if path else key)
        elif isinstance(messages, list | tuple):
            for message in messages:
                add(message, path)
        else:
            flat.setdefault(path or WHOLE_REQUEST, []).append(str(messages))

    add(messages, path)
    return flat


class Refused(Exception):
    """A request a rule refuses, with the status, message and details a client is shown."""

    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
        *,
        fields: Mapping[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = dict(details or {})
        if fields:
            # Which parts of the request were not valid, in the one shape every error uses.
            self.details["fields"] = flat_field_errors(fields)
        self.retry_after = retry_after  # seconds, for a 429 or 503 the client may retry
