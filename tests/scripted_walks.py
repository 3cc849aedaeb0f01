"""Eleven readers' scripted walks through the seeds/001 poll, and every result number for them
worked out by hand; shared by the results tests of the API, the CLI and the results picture."""

from __future__ import annotations

from pollserver.core.results import SELF_SELECTED_NOTE

from helpers import walk

# Five readers take yes/yes, three yes/no, two say no at once, one says yes and stops.
SCRIPTED_WALKS = (
    [[("q1", "yes"), ("q2", "yes")]] * 5
    + [[("q1", "yes"), ("q2", "no")]] * 3
    + [[("q1", "no")]] * 2
    + [[("q1", "yes")]]
)

# Worked out by hand from the walks above (Wilson bounds from the textbook formula with
# z = 1.96, rounded outwards to 4 places: 9/11 → 0.5230–0.9486, 5/8 → 0.3057–0.8632).
EXPECTED_NUMBERS = {
    "respondents": 11,
    "finished": 10,
    "shares_published": True,
    "min_respondents": 10,
    "note": SELF_SELECTED_NOTE,
    "questions": {
        "q1": {
            "reached": 11,
            "yes": 9,
            "no": 2,
            "not_answered": 0,
            "yes_share": 0.8182,
            "yes_interval": [0.523, 0.9487],
        },
        "q2": {
            "reached": 9,
            "yes": 5,
            "no": 3,
            "not_answered": 1,
            "yes_share": 0.625,
            "yes_interval": [0.3057, 0.8632],
        },
    },
    "outcomes": {
        "o1": {"reached": 5, "share_of_finished": 0.5},
        "o2": {"reached": 3, "share_of_finished": 0.3},
        "o3": {"reached": 5, "share_of_finished": 0.5},
        "o4": {"reached": 3, "share_of_finished": 0.3},
    },
    "paths": [
        {
            "nodes": ["q1", "q2"],
            "answers": ["yes", "yes"],
            "outcomes": ["o1", "o3"],
            "respondents": 5,
            "share_of_finished": 0.5,
        },
        {
            "nodes": ["q1", "q2"],
            "answers": ["yes", "no"],
            "outcomes": ["o2", "o4"],
            "respondents": 3,
            "share_of_finished": 0.3,
        },
        {
            "nodes": ["q1"],
            "answers": ["no"],
            "outcomes": [],
            "respondents": 2,
            "share_of_finished": 0.2,
        },
    ],
    # Where the ten finished readers ended; the intervals are 95% Wilson intervals worked by
    # hand (5/10: 0.5 ± 0.2634, 3/10: 0.3555 ± 0.2477, 2/10: 0.2833 ± 0.2266), rounded outwards.
    "endings": [
        {
            "outcomes": ["o1", "o3"],
            "node": "q2",
            "answer": "yes",
            "respondents": 5,
            "share_of_finished": 0.5,
            "interval": [0.2365, 0.7635],
        },
        {
            "outcomes": ["o2", "o4"],
            "node": "q2",
            "answer": "no",
            "respondents": 3,
            "share_of_finished": 0.3,
            "interval": [0.1077, 0.6033],
        },
        {
            "outcomes": [],
            "node": "q1",
            "answer": "no",
            "respondents": 2,
            "share_of_finished": 0.2,
            "interval": [0.0566, 0.5099],
        },
    ],
}
ANSWERS_GIVEN = 5 * 2 + 3 * 2 + 2 + 1


def post_walks(client, poll_id, walks):
    for steps in walks:
        walk(client, poll_id, steps)
