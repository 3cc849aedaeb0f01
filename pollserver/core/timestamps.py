"""Time as the service speaks it: aware UTC datetimes inside, ISO 8601 with "Z" outside; and
as a newsroom reads and enters it, in its own time zone (an IANA name)."""

from __future__ import annotations

import datetime as dt
import zoneinfo


class UnknownTimeZone(ValueError):
    pass


class NotALocalTime(ValueError):
    """A wall-clock time the zone skips (a daylight-saving change moves clocks past it)."""


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
