"""What a reader's walk counts for in a poll's running totals: counter names and arithmetic.

What one reader's walk counts for is a small multiset of counter names (see
:func:`walk_contributions`); any change to a reader (an answer, a changed answer, hiding,
restoring) adds the new multiset and subtracts the old. ``pollserver.services.tallies`` keeps
the totals in the database.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from pollserver.core.tree import Walk

STARTED = "started"
FINISHED = "finished"


def reached(key: str) -> str:
    return f"reached:{key}"


def answered(key: str, answer: str) -> str:
    return f"{answer}:{key}"


def path(code: str) -> str:
    return f"path:{code}"


def hour(moment: dt.datetime) -> str:
    return f"hour:{moment.astimezone(dt.UTC):%Y-%m-%dT%H}"


def walk_contributions(walk: Walk, answer_times: Iterable[dt.datetime] = ()) -> Counter[str]:
    """Everything one reader's walk adds to the tallies."""
    counts: Counter[str] = Counter({STARTED: 1})
    for key, answer in walk.path:
        counts[reached(key)] += 1
        counts[answered(key, answer)] += 1
    if walk.current is not None:
        counts[reached(walk.current)] += 1
    if walk.finished:
        counts[FINISHED] += 1
        counts[path(walk.path_code)] += 1
        for key in walk.outcomes:
            counts[reached(key)] += 1
    for moment in answer_times:
        counts[hour(moment)] += 1
    return counts


def difference(new: Counter[str], old: Counter[str]) -> dict[str, int]:
    keys = set(new) | set(old)
    return {key: new[key] - old[key] for key in keys if new[key] != old[key]}


# Not a result: assemble_results ignores counters it does not know, and this one lets a poll list
# show how many respondents are hidden without counting rows.
HIDDEN_RESPONDENTS = "moderation:hidden"
