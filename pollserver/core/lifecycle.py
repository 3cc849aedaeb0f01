"""A poll's lifecycle: its statuses, which may follow which, and the status a reader sees.

draft → open ⇄ paused → closed → archived, and closed → open. A scheduled opening or closing
counts from its moment on, whatever the stored status says, so no job has to run at that time.

A poll keeps its public id across versions. Readers see its *live* version: the newest one they
may see at all. Opening a newer version closes the older one ("superseded"), but a reader who
was part-way through the older one may still finish it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Protocol, TypeVar

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
    def open_at(self) -> dt.datetime | None: ...

    @property
    def close_at(self) -> dt.datetime | None: ...


class Versioned(Scheduled, Protocol):
    """What the version rules need of a poll version."""

    @property
    def version(self) -> int: ...

    @property
    def superseded_at(self) -> dt.datetime | None: ...


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
    """The status a reader sees: a draft past its opening time is open, a poll past its
    closing time is closed."""
    now = now or utcnow()
    status = poll.status
    if status is PollStatus.DRAFT and poll.open_at is not None and poll.open_at <= now:
        status = PollStatus.OPEN
    if (
        poll.close_at is not None
        and poll.close_at <= now
        and status in (PollStatus.OPEN, PollStatus.PAUSED)
    ):
        return PollStatus.CLOSED
    return status


def is_published(poll: Scheduled, now: dt.datetime | None = None) -> bool:
    """Whether readers may see the poll at all (open, paused or closed)."""
    return effective_status(poll, now) in PUBLIC_STATUSES


V = TypeVar("V", bound=Versioned)


def live_version(versions: Iterable[V], now: dt.datetime | None = None) -> V | None:
    """The version readers see: the newest one that is published, or None."""
    now = now or utcnow()
    published = [version for version in versions if is_published(version, now)]
    return max(published, key=lambda version: version.version, default=None)


def lets_its_readers_finish(poll: Versioned, now: dt.datetime | None = None) -> bool:
    """Whether readers who already started this version may answer on: it is open, or it was
    open until a newer version replaced it (and no closing time of its own has passed since)."""
    now = now or utcnow()
    status = effective_status(poll, now)
    if status is PollStatus.OPEN:
        return True
    return (
        poll.status is PollStatus.CLOSED
        and poll.superseded_at is not None
        and (poll.close_at is None or poll.close_at > now)
    )
