"""Time as the service speaks it: aware UTC datetimes inside, ISO 8601 with "Z" outside; and
as a newsroom reads and enters it, in its own time zone (an IANA name)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import marshmallow as ma


class UnknownTimeZone(ValueError):
    pass


class NotALocalTime(ValueError):
    """A wall-clock time the zone skips (a daylight-saving change moves clocks past it)."""


# The times the service takes, clamped into a range where every computation on them stays a
# datetime (a day or an hour either side of year 1 or 9999 overflows Python's datetime).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


class UtcDateTime(ma.fields.AwareDateTime):
    """An ISO 8601 time with its offset, taken in UTC and clamped to EARLIEST..LATEST.

    Without the clamp, year 1 at +14:00 or year 9999 at -14:00 has no UTC equivalent, and a
    filter or a schedule given one answered 500; "since year 1" still means "from the start"."""

    def _deserialize(self, value, attr, data, **kwargs) -> dt.datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = moment.astimezone(dt.UTC)
        except OverflowError:  # before year 1 or after year 9999 once in UTC
            return EARLIEST if moment.year < LATEST.year else LATEST
        return min(max(in_utc, EARLIEST), LATEST)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone an IANA name ("Europe/Berlin") names; UnknownTimeZone for anything else."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZone(
            f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)"
        ) from error


def from_local(wall_clock: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The UTC moment a newsroom's wall-clock time names (the earlier one when clocks go back)."""
    local = wall_clock.replace(tzinfo=zone, fold=0)
    moment = local.astimezone(dt.UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != wall_clock.replace(tzinfo=None):
        raise NotALocalTime(
            f"{wall_clock:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip it"
        )
    return moment


def to_local(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(zone)
