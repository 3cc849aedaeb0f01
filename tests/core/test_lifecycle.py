"""The lifecycle's pure rules: scheduled openings and closings, the live version, and who may
finish a version a newer one replaced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from pollserver.core.lifecycle import (
    PollStatus,
    effective_status,
    lets_its_readers_finish,
    live_version,
)
from pollserver.core.timestamps import NotALocalTime, from_local, time_zone, to_local

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@dataclass
class Version:
    version: int
    status: PollStatus
    open_at: dt.datetime | None = None
    close_at: dt.datetime | None = None
    superseded_at: dt.datetime | None = None


def test_a_draft_opens_at_its_time_and_closes_at_its_own():
    draft = Version(1, PollStatus.DRAFT, open_at=NOW + HOUR)
    assert effective_status(draft, NOW) is PollStatus.DRAFT
    assert effective_status(draft, NOW + HOUR) is PollStatus.OPEN
    draft.close_at = NOW + 2 * HOUR
    assert effective_status(draft, NOW + 2 * HOUR) is PollStatus.CLOSED
    assert effective_status(Version(1, PollStatus.DRAFT), NOW + 100 * HOUR) is PollStatus.DRAFT


def test_readers_see_the_newest_published_version():
    first = Version(1, PollStatus.OPEN)
    draft = Version(2, PollStatus.DRAFT)
    assert live_version([first, draft], NOW) is first
    draft.open_at = NOW + HOUR
    assert live_version([first, draft], NOW) is first
    assert live_version([first, draft], NOW + HOUR) is draft
    assert (
        live_version([Version(1, PollStatus.ARCHIVED), Version(2, PollStatus.DRAFT)], NOW) is None
    )


def test_readers_of_a_replaced_version_may_finish_it_until_its_own_close_time():
    replaced = Version(1, PollStatus.CLOSED, superseded_at=NOW)
    assert lets_its_readers_finish(replaced, NOW)
    replaced.close_at = NOW + HOUR
    assert lets_its_readers_finish(replaced, NOW)
    assert not lets_its_readers_finish(replaced, NOW + HOUR)
    assert not lets_its_readers_finish(Version(1, PollStatus.CLOSED), NOW)  # closed by an editor
    assert not lets_its_readers_finish(Version(1, PollStatus.PAUSED), NOW)
    assert lets_its_readers_finish(Version(1, PollStatus.OPEN), NOW)


def test_newsroom_times_convert_to_utc_and_back_across_daylight_saving():
    berlin = time_zone("Europe/Berlin")
    winter = from_local(dt.datetime(2026, 12, 1, 9, 0), berlin)
    summer = from_local(dt.datetime(2026, 7, 1, 9, 0), berlin)
    assert (winter.hour, summer.hour) == (8, 7)
    assert to_local(winter, berlin).replace(tzinfo=None) == dt.datetime(2026, 12, 1, 9, 0)
    with pytest.raises(NotALocalTime, match="does not exist"):
        from_local(dt.datetime(2026, 3, 29, 2, 30), berlin)  # clocks jump from 2:00 to 3:00
