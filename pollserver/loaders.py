"""Loading what a URL names, for the JSON API and the moderation pages alike (as redash's
``handlers/base.py``): the object, or a 404 that each entrypoint renders in its own shape."""

from __future__ import annotations

from werkzeug.exceptions import NotFound

from pollserver.core.identifiers import echoed
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction, in_write_transaction
from pollserver.extensions import db
from pollserver.models import MAX_ARTICLE_ID, Article, Poll
from pollserver.services.moderation.versions import catch_up_schedules, schedules_due
from pollserver.services.polls import find_poll


def load_poll(poll_id: str, version: int | None = None) -> Poll:
    """A version of the poll with this public id (by default its newest); inside a write
    transaction, locked until it ends (an edit must see its answers, and hold them off, to the
    end)."""
    poll = find_poll(db.session, poll_id, version, for_update=in_write_transaction())
    if poll is None:
        if version is not None and find_poll(db.session, poll_id) is not None:
            raise NotFound(f"Poll {echoed(poll_id)} has no version {version}.")
        raise NotFound(f"No poll {echoed(poll_id)}.")
    return poll


def record_due_schedules() -> None:
    """Store (and audit) what scheduled openings and closings did since they came due, before a
    moderator reads anything. Readers saw them at their moment already (core.lifecycle)."""
    now = utcnow()
    if not schedules_due(db.session, now):
        return
    begin_write_transaction()
    catch_up_schedules(db.session, now)
    db.session.commit()


def load_article(article_id: int) -> Article:
    article = db.session.get(Article, article_id) if article_id <= MAX_ARTICLE_ID else None
    if article is None:
        raise NotFound(f"No article {article_id}.")
    return article
