"""Aggregate results from the running tallies: plain arithmetic, no Flask, no database.

Honest by construction: shares come with a 95% Wilson score interval, small samples publish counts
only, and every result says that readers chose to take part.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from pollserver.core import counters
from pollserver.core.tree import PollTree

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
SHARE_DECIMALS = 4
SELF_SELECTED_NOTE = (
    "Readers chose to take part: this is a self-selected sample, not a representative survey."
)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion; None when there are no trials."""
    if trials <= 0:
        return None
    share = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (share + z2 / (2 * trials)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / trials + z2 / (4 * trials * trials))
    half_width /= denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def round_share(value: float) -> float:
    return round(value, SHARE_DECIMALS)


def round_interval(bounds: tuple[float, float]) -> list[float]:
    # Outward rounding keeps the published interval around the published share.
    scale = 10**SHARE_DECIMALS
    return [math.floor(bounds[0] * scale) / scale, math.ceil(bounds[1] * scale) / scale]


def share(part: int, whole: int) -> float | None:
    return round_share(part / whole) if whole > 0 else None


def endings_of(
    paths: list[dict[str, Any]], finished: int, publish_shares: bool
) -> list[dict[str, Any]]:
    """Where the finished readers ended: one entry per outcome chain, and one per last answer
    that leads to no outcome (``outcomes`` empty), most readers first. Built from the paths,
    which count each finished reader once, so the endings add up to ``finished``.

    Several paths may lead into one outcome chain (a tree may join branches); its ``node`` and
    ``answer`` are the last question and answer of the one with most readers (``paths`` comes
    sorted that way).
    """
    endings: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in paths:
        node, answer = entry["nodes"][-1], entry["answers"][-1]
        group = ("outcomes", *entry["outcomes"]) if entry["outcomes"] else ("end", node, answer)
        ending = endings.get(group)
        if ending is None:
            endings[group] = ending = {
                "outcomes": list(entry["outcomes"]),
                "node": node,
                "answer": answer,
                "respondents": 0,
                "share_of_finished": None,
                "interval": None,
            }
        ending["respondents"] += entry["respondents"]
    ordered = sorted(endings.values(), key=lambda ending: -ending["respondents"])
    if publish_shares and finished > 0:
        for ending in ordered:
            ending["share_of_finished"] = share(ending["respondents"], finished)
            interval = wilson_interval(ending["respondents"], finished)
            ending["interval"] = round_interval(interval) if interval else None
    return ordered


def assemble_results(
    tree: PollTree,
    counts: Mapping[str, int],
    *,
    poll_id: str,
    version: int,
    min_respondents: int,
    as_of: dt.datetime,
) -> dict[str, Any]:
    respondents = counts.get(counters.STARTED, 0)
    finished = counts.get(counters.FINISHED, 0)
    publish_shares = respondents >= min_respondents

    questions = {}
    for node in tree.questions():
        reached = counts.get(counters.reached(node.key), 0)
        yes = counts.get(counters.answered(node.key, "yes"), 0)
        no = counts.get(counters.answered(node.key, "no"), 0)
        interval = wilson_interval(yes, yes + no) if publish_shares else None
        questions[node.key] = {
            "reached": reached,
            "yes": yes,
            "no": no,
            "not_answered": reached - yes - no,
            "yes_share": share(yes, yes + no) if publish_shares else None,
            "yes_interval": round_interval(interval) if interval else None,
        }

    outcomes = {}
    for node in tree.outcomes():
        reached = counts.get(counters.reached(node.key), 0)
        outcomes[node.key] = {
            "reached": reached,
            "share_of_finished": share(reached, finished) if publish_shares else None,
        }

    paths = []
    for counter, number in counts.items():
        if not counter.startswith("path:") or number <= 0:
            continue
        walk = tree.walk_path_code(counter.removeprefix("path:"))
        paths.append(
            {
                "nodes": [key for key, _ in walk.path],
                "answers": [answer for _, answer in walk.path],
                "outcomes": walk.outcomes,
                "respondents": number,
                "share_of_finished": share(number, finished) if publish_shares else None,
            }
        )
    paths.sort(key=lambda entry: (-entry["respondents"], entry["answers"]))
    endings = endings_of(paths, finished, publish_shares)

    hourly = [
        {"hour": f"{counter.removeprefix('hour:')}:00:00Z", "answers": number}
        for counter, number in sorted(counts.items())
        if counter.startswith("hour:") and number > 0
    ]

    return {
        "poll": poll_id,
        "version": version,
        "as_of": as_of.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "respondents": respondents,
        "finished": finished,
        "shares_published": publish_shares,
        "min_respondents": min_respondents,
        "note": SELF_SELECTED_NOTE,
        "questions": questions,
        "outcomes": outcomes,
        "paths": paths,
        "endings": endings,
        "hourly": hourly,
    }
