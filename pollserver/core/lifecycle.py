"""A poll's lifecycle: its statuses, which may follow which, and the status a reader sees.

draft → open ⇄ paused → closed → archived, and closed → open. A scheduled close time counts
from its moment on, whatever the stored status says, so no job has to run at that time.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Protocol

from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow


class PollStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"
    ARCHIVED = "archived"


# Which status may follow which.
TRANSITIONS: dict[PollStatus, frozenset[PollStatus]] = {
    PollStatus.DRAFT: frozenset({PollStatus.OPEN}),
    PollStatus.OPEN: frozenset({PollStatus.PAUSED, PollStatus.CLOSED}),
    PollStatus.PAUSED: frozenset({PollStatus.OPEN, PollStatus.CLOSED}),
    PollStatus.CLOSED: frozenset({PollStatus.OPEN, PollStatus.ARCHIVED}),
    PollStatus.ARCHIVED: frozenset(),
}
# Statuses a widget may render (drafts are unpublished, archived polls are withdrawn).
PUBLIC_STATUSES = frozenset({PollStatus.OPEN, PollStatus.PAUSED, PollStatus.CLOSED})


class Scheduled(Protocol):
    """What the lifecycle needs of a poll (a model row or its facts)."""

    @property
    def status(self) -> PollStatus: ...

    @property
    def close_at(self) -> dt.datetime | None: ...


class InvalidTransition(Refused):
    """A status change the lifecycle does not allow; the message says what is allowed."""

    def __init__(self, public_id: str, current: PollStatus, target: PollStatus):
        allowed = allowed_next(current)
        super().__init__(
            409,
            f"poll {public_id} is {current}; it cannot become {target} "
            f"(from {current} it can become: {', '.join(allowed) or 'nothing'})",
            {"status": str(current), "requested": str(target), "allowed": allowed},
        )
        self.current = current
        self.target = target


def allowed_next(status: PollStatus) -> list[str]:
    return sorted(str(target) for target in TRANSITIONS[status])


def effective_status(poll: Scheduled, now: dt.datetime | None = None) -> PollStatus:
    """The status a reader sees: a poll past its scheduled close time is closed."""
    if (
        poll.close_at is not None
        and poll.close_at <= (now or utcnow())
        and poll.status in (PollStatus.OPEN, PollStatus.PAUSED)
    ):
        return PollStatus.CLOSED
    return poll.status


def is_published(poll: Scheduled, now: dt.datetime | None = None) -> bool:
    """Whether readers may see the poll at all (open, paused or closed)."""
    return effective_status(poll, now) in PUBLIC_STATUSES
