"""The poll page's activity chart: bars of answers over a chosen range, with axes, a legend for
hidden answers, and labels in the newsroom's time zone. Drawn as SVG by the template from the
numbers this module works out (no plotting library: a few rectangles and lines)."""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass

from pollserver.services.moderation.activity import HourActivity

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28  # room for the axes' labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_HOURLY_BARS = 168  # beyond a week, a bar per day


class ChartRange(enum.StrEnum):
    DAY = "24h"
    WEEK = "7d"
    WHOLE = "all"


RANGE_LABELS = {
    ChartRange.DAY: "Last 24 hours",
    ChartRange.WEEK: "Last 7 days",
    ChartRange.WHOLE: "Whole poll",
}


@dataclass(frozen=True)
class Bar:
    start: dt.datetime  # UTC
    hourly: bool
    x: float
    width: float
    counted_height: float
    hidden_height: float
    answers: int
    hidden: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    hourly: bool
    total: int
    hidden: int


def utc_hour(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def nice_ceiling(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def range_start(chosen: ChartRange, hours: list[HourActivity], now: dt.datetime) -> dt.datetime:
    last = floor_hour(now)
    if chosen is ChartRange.DAY:
        return last - dt.timedelta(hours=23)
    if chosen is ChartRange.WEEK:
        return last - dt.timedelta(hours=MAX_HOURLY_BARS - 1)
    first = utc_hour(hours[0].hour) if hours else last
    return min(first, last - dt.timedelta(hours=23))


def build_chart(
    hours: list[HourActivity], chosen: ChartRange, now: dt.datetime, zone: dt.tzinfo
) -> Chart:
    """Bars from the range's start to now: one per hour, or one per local day past a week."""
    start, end = range_start(chosen, hours, now), floor_hour(now) + dt.timedelta(hours=1)
    hourly = end - start <= dt.timedelta(hours=MAX_HOURLY_BARS)
    buckets: dict[dt.datetime, list[int]] = {}
    slots: list[dt.datetime] = []
    if hourly:
        moment = start
        while moment < end:
            slots.append(moment)
            moment += dt.timedelta(hours=1)
    else:
        day = start.astimezone(zone).date()
        while day <= (end - dt.timedelta(seconds=1)).astimezone(zone).date():
            slots.append(dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC))
            day += dt.timedelta(days=1)
    for slot in slots:
        buckets[slot] = [0, 0]
    for entry in hours:
        moment = utc_hour(entry.hour)
        if not start <= moment < end:
            continue
        if hourly:
            slot = moment
        else:
            local_day = moment.astimezone(zone).date()
            slot = dt.datetime.combine(local_day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        bucket = buckets.setdefault(slot, [0, 0])
        bucket[0] += entry.answers
        bucket[1] += entry.hidden_answers
    top = nice_ceiling(max((values[0] for values in buckets.values()), default=0))
    width = PLOT_WIDTH / len(slots)
    bars = []
    for index, slot in enumerate(slots):
        answers, hidden = buckets[slot]
        bars.append(
            Bar(
                start=slot,
                hourly=hourly,
                x=LEFT + index * width,
                width=max(width - 1, 0.5),
                counted_height=(answers - hidden) / top * PLOT_HEIGHT,
                hidden_height=hidden / top * PLOT_HEIGHT,
                answers=answers,
                hidden=hidden,
            )
        )
    y_ticks = [
        Tick(TOP + PLOT_HEIGHT - fraction * PLOT_HEIGHT, f"{round(top * fraction):,}")
        for fraction in (0, 0.5, 1)
        if fraction == 0 or top * fraction == int(top * fraction)
    ]
    return Chart(
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks(bars, hourly, zone),
        hourly=hourly,
        total=sum(bar.answers for bar in bars),
        hidden=sum(bar.hidden for bar in bars),
    )


def x_ticks(bars: list[Bar], hourly: bool, zone: dt.tzinfo) -> list[Tick]:
    """About six labels under the bars: local times of day, or local dates."""
    if not bars:
        return []
    every = max(1, math.ceil(len(bars) / 6))
    ticks = []
    for index in range(0, len(bars), every):
        bar = bars[index]
        local = bar.start.astimezone(zone)
        if not hourly or len(bars) > 48:
            label = (
                local.strftime("%d %b")
                if not hourly or local.hour == 0
                else local.strftime("%d %b %H:%M")
            )
        else:
            label = local.strftime("%H:%M")
        ticks.append(Tick(bar.x, label))
    return ticks
