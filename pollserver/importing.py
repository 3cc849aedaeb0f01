"""Storing articles and the draft polls built from them; idempotent, and safe for live polls.

Rules (plain Python over a SQLAlchemy ``Session``; the CLI and the admin API share them):
- the same article again (same source, same bytes) changes nothing;
- a changed article updates each block's latest poll in place while it has no answers;
  once it has answers, a new draft version is made beside it and the answered poll is untouched;
- an article without a flowchart is stored too, marked as needing a poll.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pollserver import builder
from pollserver.models import Article, Poll, utcnow
from pollserver.polls import create_poll, definition_of, poll_has_answers, replace_definition

SLUG_LENGTH = 80


class ImportStatus(enum.StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    FAILED = "failed"


@dataclass
class ImportOutcome:
    source: str
    status: ImportStatus
    article: Article | None = None
    polls: list[Poll] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""


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


def latest_poll_for_block(session: Session, article: Article, block_index: int) -> Poll | None:
    return session.scalar(
        select(Poll)
        .where(Poll.article_id == article.id, Poll.block_index == block_index)
        .order_by(Poll.version.desc())
        .limit(1)
        .with_for_update()  # see find_poll: the answer check below must hold while we write
    )


def import_article(session: Session, parsed: builder.Article) -> ImportOutcome:
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
    if article is not None and article.content_hash == parsed.content_hash:
        return ImportOutcome(
            parsed.source, ImportStatus.UNCHANGED, article, list(article.polls), built.warnings
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

    polls = [
        store_block_poll(session, article, block_index, definition)
        for block_index, definition in enumerate(built.polls)
    ]
    return ImportOutcome(parsed.source, status, article, polls, built.warnings, no_flowchart)


def store_block_poll(
    session: Session, article: Article, block_index: int, definition: dict[str, Any]
) -> Poll:
    latest = latest_poll_for_block(session, article, block_index)
    if latest is None:
        return create_poll(session, definition, article=article, block_index=block_index)
    if definition_of(latest) == definition:
        return latest
    if not poll_has_answers(session, latest):
        replace_definition(session, latest, definition)
        return latest
    # Answers were given to the old tree: they keep their meaning only on the old tree.
    return create_poll(
        session,
        definition,
        article=article,
        block_index=block_index,
        version=latest.version + 1,
        previous=latest,
        settings=latest.settings,
    )
