"""The documents admin views return, built from models and service results (as redash's
``serializers``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from pollserver.core.lifecycle import allowed_next, effective_status
from pollserver.core.poll_settings import settings_of
from pollserver.core.timestamps import utcnow
from pollserver.extensions import db
from pollserver.models import Article, Poll
from pollserver.services.moderation.exports import export_document
from pollserver.services.moderation.polls import (
    PollCounts,
    definition_summary,
    poll_counts,
    version_summaries,
)
from pollserver.services.moderation.responses import ResponseRecord
from pollserver.services.moderation.versions import live_versions
from pollserver.services.polls import poll_has_answers


def version_numbers_of(poll_ids: Iterable[int | None]) -> dict[int, int]:
    wanted = {poll_id for poll_id in poll_ids if poll_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(Poll.id, Poll.version).where(Poll.id.in_(wanted)))
    return {poll_id: version for poll_id, version in rows}


def poll_summaries(polls: list[Poll], now: dt.datetime) -> list[dict[str, Any]]:
    counts = poll_counts(db.session, [poll.id for poll in polls])
    previous = version_numbers_of(poll.previous_version_id for poll in polls)
    live = live_versions(db.session, [poll.public_id for poll in polls], now)
    return [poll_summary(poll, counts[poll.id], previous, live, now) for poll in polls]


def poll_summary(
    poll: Poll,
    counts: PollCounts,
    previous: dict[int, int],
    live: dict[str, int | None],
    now: dt.datetime,
) -> dict[str, Any]:
    article = poll.article
    return {
        "id": poll.public_id,
        "title": poll.title,
        "status": str(effective_status(poll, now)),
        "version": poll.version,
        "previous_version": previous.get(poll.previous_version_id or 0),
        "live_version": live.get(poll.public_id),
        "article": (
            {"id": article.id, "title": article.title, "source": article.source}
            if article
            else None
        ),
        "open_at": poll.open_at,
        "close_at": poll.close_at,
        "created_at": poll.created_at,
        "updated_at": poll.updated_at,
        "opened_at": poll.opened_at,
        "closed_at": poll.closed_at,
        "counts": counts,
    }


def poll_detail(poll: Poll, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    document = poll_summaries([poll], now)[0]
    has_answers = poll_has_answers(db.session, poll)
    summary = definition_summary(poll)
    status = effective_status(poll, now)
    document.update(
        settings={
            **settings_of(poll.settings).for_editors(),
            "open_at": poll.open_at,
            "close_at": poll.close_at,
        },
        definition=summary["definition"],
        warnings=summary["warnings"],
        has_answers=has_answers,
        structure_frozen=has_answers,
        allowed_transitions=allowed_next(status),
        versions=[
            {**row, "status": str(row["status"])}
            for row in version_summaries(db.session, poll.public_id, now)
        ],
    )
    return document


def article_summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "slug": article.slug,
        "source": article.source,
        "title": article.title,
        "format": article.format,
        "needs_poll": article.needs_poll,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "polls": [
            {"id": poll.public_id, "status": str(poll.status), "version": poll.version}
            for poll in sorted(article.polls, key=lambda poll: (poll.block_index, poll.version))
        ],
    }


def set_item_count(pagination_parameters, total: int) -> None:
    pagination_parameters.item_count = total


def respondent_document(record: ResponseRecord) -> dict[str, Any]:
    return {**export_document(record), "address_hash": record.address_hash}
