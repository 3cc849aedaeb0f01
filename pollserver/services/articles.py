"""Articles: submitted, stored with the draft polls built from them, listed; idempotent, and safe
for live polls.

Rules (plain Python over a SQLAlchemy ``Session``; the CLI and the admin API share them):
- the same article again (the same source, or the same text from anywhere) changes nothing;
- a changed article's polls are rebuilt from the editor's current trees with the article's
  changes merged in (``article_rebuilds``): in place while a poll has no answers, else as a new
  draft version; where both changed the same thing, nothing is replaced and the import says so;
- an article without a flowchart is stored too, marked as needing a poll;
- every import that changes something is in the audit log, whoever made it;
- an article goes only with polls nobody answered, and none open or paused.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, selectinload

from pollserver.core import builder
from pollserver.core.lifecycle import PollStatus
from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow
from pollserver.models import Article, Poll
from pollserver.services.article_rebuilds import apply_plan, conflict_message, plan_block
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.moderation.polls import record_poll_created
from pollserver.services.polls import (
    create_poll,
    poll_has_answers,
)

SLUG_LENGTH = 80


class ImportStatus(enum.StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    CONFLICT = "conflict"  # changed where an editor changed the poll too: nothing replaced
    FAILED = "failed"


@dataclass
class ImportOutcome:
    source: str
    status: ImportStatus
    article: Article | None = None
    polls: list[Poll] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    # What the article's new text changed in each poll (by public id), when it was updated.
    changes: dict[str, list[str]] = field(default_factory=dict)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:SLUG_LENGTH].rstrip("-") or "article"


def unique_slug(session: Session, text: str) -> str:
    base = slugify(text)
    candidate, number = base, 2
    while session.scalar(select(exists().where(Article.slug == candidate))):
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def import_article(
    session: Session, parsed: builder.Article, actor: str, now: dt.datetime | None = None
) -> ImportOutcome:
    """Store one parsed article and its polls; see the module docstring for the rules."""
    try:
        built = builder.build_polls_from_article(parsed)
    except builder.NoFlowchartError as error:
        built, no_flowchart = builder.BuildResult(parsed.title, [], []), str(error)
    except builder.ArticleError as error:
        return ImportOutcome(parsed.source, ImportStatus.FAILED, message=str(error))
    else:
        no_flowchart = ""

    article = session.scalar(select(Article).where(Article.source == parsed.source))
    if article is None:
        # The same text from another folder, or sent again under another name.
        article = session.scalar(
            select(Article)
            .where(Article.content_hash == parsed.content_hash)
            .order_by(Article.id)
            .limit(1)
        )
    if article is not None and article.content_hash == parsed.content_hash:
        return ImportOutcome(
            parsed.source, ImportStatus.UNCHANGED, article, list(article.polls), built.warnings
        )
    known_polls = {poll.id for poll in article.polls} if article is not None else set()
    # A definition file's polls have no language or place of their own: in order.
    block_indexes = built.block_indexes or list(range(len(built.polls)))
    languages = built.languages or [None] * len(built.polls)
    plans = [
        plan_block(session, article, block_index, definition, language)
        for block_index, definition, language in zip(
            block_indexes, built.polls, languages, strict=True
        )
    ]
    if any(plan.conflicts for plan in plans):
        assert article is not None  # a new article has nothing to conflict with
        return ImportOutcome(
            parsed.source,
            ImportStatus.CONFLICT,
            article,
            list(article.polls),
            built.warnings,
            conflict_message(plans),
        )

    title = built.title or parsed.title
    if article is None:
        article = Article(
            source=parsed.source,
            slug=unique_slug(session, title or parsed.source.rsplit("/", 1)[-1]),
            title=title,
            body=parsed.body,
            format=parsed.format,
            content_hash=parsed.content_hash,
        )
        session.add(article)
        status = ImportStatus.CREATED
    else:
        article.title = title
        article.body = parsed.body
        article.format = parsed.format
        article.content_hash = parsed.content_hash
        article.updated_at = utcnow()
        status = ImportStatus.UPDATED
    article.needs_poll = not built.polls
    session.flush()

    polls = [apply_plan(session, article, plan, actor, now) for plan in plans]
    session.flush()
    changes = {
        poll.public_id: plan.article_changes
        for poll, plan in zip(polls, plans, strict=True)
        if plan.article_changes
    }
    record_audit(
        session,
        actor,
        Action.ARTICLE_SUBMIT,
        after={
            "article": article.id,
            "title": article.title,
            "source": parsed.source,
            "status": status,
            "polls": [poll.public_id for poll in polls],
            "warnings": built.warnings,
            "changes": changes,
        },
        now=now,
    )
    for poll in polls:
        if poll.id not in known_polls:
            record_poll_created(session, poll, actor, now)
    return ImportOutcome(
        parsed.source, status, article, polls, built.warnings, no_flowchart, changes
    )


def default_article_source(raw: bytes, filename: str | None) -> str:
    """A source name for an article sent without one: the same bytes give the same article."""
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if filename:
        filename = re.sub(r"[\x00-\x1f\x7f]", "", filename)[:200]
    # Keeping the file name at the end lets the builder guess the format from its suffix.
    return f"submitted:{digest}/{filename}" if filename else f"submitted:{digest}"


def submit_article(
    session: Session,
    raw: bytes,
    *,
    source: str | None,
    format: str | None,
    filename: str | None,
    actor: str,
    now: dt.datetime | None = None,
) -> ImportOutcome:
    """Store an article and the draft polls the builder finds in it (idempotent per source)."""
    source = source or default_article_source(raw, filename)
    if format is None and filename:
        format = builder.format_of_name(filename)
    try:
        parsed = builder.parse_article(raw, source, format=format)
    except builder.ArticleError as error:
        return ImportOutcome(source, ImportStatus.FAILED, message=str(error))
    return import_article(session, parsed, actor, now)


def articles_query(*, needs_poll: bool | None = None) -> Select[tuple[Article]]:
    query = select(Article).options(selectinload(Article.polls))
    if needs_poll is not None:
        query = query.where(Article.needs_poll.is_(needs_poll))
    return query.order_by(Article.created_at.desc(), Article.id.desc())


def attach_definition(
    session: Session,
    article: Article,
    definition: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> Poll:
    """Give an article a hand-written poll (a draft), e.g. when the builder found no flowchart."""
    last_block = session.scalar(
        select(func.max(Poll.block_index)).where(Poll.article_id == article.id)
    )
    poll = create_poll(
        session,
        definition,
        article=article,
        block_index=0 if last_block is None else last_block + 1,
    )
    article.needs_poll = False
    record_poll_created(session, poll, actor, now)
    return poll


def deletion_refusal(session: Session, article: Article) -> Refused | None:
    """Why the article may not be deleted (a poll of it has answers, or is open or paused), or
    None when it may."""
    polls = list(article.polls)
    answered = [poll for poll in polls if poll_has_answers(session, poll)]
    running = [poll for poll in polls if poll.status in (PollStatus.OPEN, PollStatus.PAUSED)]
    which = answered or running
    if not which:
        return None
    reason = "has answers" if answered else f"is {which[0].status}"
    return Refused(
        409,
        f"Article {article.id} cannot be deleted: its poll {which[0].public_id} "
        f"(version {which[0].version}) {reason}. Close and archive its polls instead.",
        {"polls": sorted({poll.public_id for poll in which})},
    )


def delete_article(
    session: Session, article: Article, actor: str, now: dt.datetime | None = None
) -> None:
    """Delete an article with its polls, when no version of them has an answer and none is
    open or paused (readers may be about to answer it)."""
    polls = list(article.polls)
    refusal = deletion_refusal(session, article)
    if refusal is not None:
        raise refusal
    record_audit(
        session,
        actor,
        Action.ARTICLE_DELETE,
        before={
            "article": article.id,
            "title": article.title,
            "source": article.source,
            "polls": [
                {"id": poll.public_id, "version": poll.version, "title": poll.title}
                for poll in polls
            ],
        },
        now=now,
    )
    for poll in polls:
        session.delete(poll)
    session.delete(article)
    session.flush()
