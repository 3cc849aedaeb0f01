"""The per-process tree cache keeps a tree only under the poll version it was read from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from pollserver import results_cache
from pollserver.extensions import db
from pollserver.models import Node, Poll
from pollserver.services.polls import find_poll_facts

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article

EDITED_TEXT = "Was the alliance worth its price?"


def test_a_tree_read_in_an_older_snapshot_is_not_cached_as_the_newer_version(app):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    with app.app_context():
        engine = db.engine
        older = engine.connect()
        if engine.dialect.name == "postgresql":
            # Read committed would see the edit below; a long transaction elsewhere may not.
            older = older.execution_options(isolation_level="REPEATABLE READ")
        older.begin()
        try:
            before = find_poll_facts(older, poll_id)  # the snapshot is taken here
            original_text = results_cache.tree_of(before, older).nodes["q1"].text
            with engine.begin() as editor:
                editor.execute(
                    update(Node)
                    .where(Node.poll_id == before.id, Node.key == "q1")
                    .values(text=EDITED_TEXT)
                )
                editor.execute(
                    update(Poll)
                    .where(Poll.id == before.id)
                    .values(updated_at=before.updated_at + dt.timedelta(seconds=1))
                )
            with engine.connect() as fresh:
                after = find_poll_facts(fresh, poll_id)
            assert after.updated_at != before.updated_at

            # Facts of the new version, definition from the old snapshot: the old tree serves
            # this one call but must not be kept under the new version.
            assert results_cache.tree_of(after, older).nodes["q1"].text == original_text
            assert ((poll_id, 1, after.id), after.updated_at) not in results_cache._tree_cache
        finally:
            older.rollback()
            older.close()

        with engine.connect() as fresh:
            assert results_cache.tree_of(after, fresh).nodes["q1"].text == EDITED_TEXT
        assert (
            results_cache._tree_cache[((poll_id, 1, after.id), after.updated_at)].nodes["q1"].text
            == EDITED_TEXT
        )
        # The old version's tree is gone from the cache once the new one is kept.
        assert ((poll_id, 1, before.id), before.updated_at) not in results_cache._tree_cache
