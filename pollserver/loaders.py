"""Loading what a URL names, for the JSON API and the moderation pages alike (as redash's
``handlers/base.py``): the object, or a 404 that each entrypoint renders in its own shape."""

from __future__ import annotations

from werkzeug.exceptions import NotFound

from pollserver.database import in_write_transaction
from pollserver.extensions import db
from pollserver.models import MAX_ARTICLE_ID, Article, Poll
from pollserver.services.polls import find_poll


def load_poll(poll_id: str) -> Poll:
    """The poll with this public id; inside a write transaction, locked until it ends (an edit
    must see its answers, and hold them off, to the end)."""
    poll = find_poll(db.session, poll_id, for_update=in_write_transaction())
    if poll is None:
        raise NotFound(f"No poll {poll_id!r}.")
    return poll


def load_article(article_id: int) -> Article:
    article = db.session.get(Article, article_id) if article_id <= MAX_ARTICLE_ID else None
    if article is None:
        raise NotFound(f"No article {article_id}.")
    return article
