"""Running tallies: many counters in one call, added and subtracted exactly."""

from __future__ import annotations

from pollserver.extensions import db
from pollserver.services import tallies
from pollserver.services.polls import find_poll

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article


def test_thousands_of_counters_in_one_call_are_added_then_taken_away_exactly(app):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    # A moderator hiding a year of hourly answers touches thousands of counters at once.
    counters = {f"hour:{n:05d}": n % 7 + 1 for n in range(9000)}
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        tallies.apply_counts(db.session, poll.id, counters)
        tallies.apply_counts(db.session, poll.id, counters)  # the same counters again
        db.session.commit()
        assert tallies.read_counts(db.session, poll.id) == {
            key: 2 * value for key, value in counters.items()
        }
        tallies.apply_counts(
            db.session, poll.id, {key: -2 * value for key, value in counters.items()}
        )
        db.session.commit()
        assert tallies.read_counts(db.session, poll.id) == {}
