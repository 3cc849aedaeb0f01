"""The demo pages a newcomer sees at ``/``: the stored articles, each with its poll where the
flowchart was. Routes of the ``embed`` blueprint (its pages' CSP and limits apply).

Turned off with ``DEMO_PAGES=false``.
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from pollserver.core import builder
from pollserver.core.lifecycle import PUBLIC_STATUSES
from pollserver.extensions import db
from pollserver.models import Article, Poll
from pollserver.pages.embed import bp, limited, not_found, page, poll_box, script_snippet


def demo_pages_enabled() -> bool:
    return bool(current_app.config["DEMO_PAGES"])


def published_polls_by_block(article: Article) -> dict[int, Poll]:
    """The newest published version of each of the article's polls, by block index."""
    polls = db.session.scalars(
        select(Poll)
        .where(Poll.article_id == article.id, Poll.status.in_(PUBLIC_STATUSES))
        .order_by(Poll.block_index, Poll.version.desc())
    ).all()
    chosen: dict[int, Poll] = {}
    for poll in polls:
        chosen.setdefault(poll.block_index, poll)
    return chosen


def article_content(article: Article) -> list[tuple[str, str | Poll]]:
    """The article as ("p", text) paragraphs and ("poll", poll) where its flowcharts were.

    Page chrome and the headline line are left out (the page shows the headline as its <h1>);
    a flowchart whose poll is not published yet is left out entirely.
    """
    polls = published_polls_by_block(article)
    try:
        parsed = builder.parse_article(
            article.body.encode("utf-8"), article.source, format=article.format
        )
    except builder.ArticleError:
        parsed = None
    if parsed is None or parsed.format == "definition":
        return [("poll", polls[index]) for index in sorted(polls)]
    span_of_line: dict[int, int] = {}
    for block_index, (start, end) in enumerate(builder.flowchart_line_spans(parsed)):
        for line_index in range(start, end):
            span_of_line[line_index] = block_index
    content: list[tuple[str, str | Poll]] = []
    headline_skipped = False
    for index, line in enumerate(parsed.lines):
        block_index = span_of_line.get(index)
        if block_index is not None:
            starts_block = index == 0 or span_of_line.get(index - 1) != block_index
            if starts_block and block_index in polls:
                content.append(("poll", polls[block_index]))
            continue
        if not line or builder.is_chrome(line):
            continue
        if not headline_skipped and line == article.title:
            headline_skipped = True
            continue
        content.append(("p", line))
    return content


@bp.get("/")
@limited
def index():
    if not demo_pages_enabled():
        return not_found("The demo pages are turned off (DEMO_PAGES=false).")
    articles = db.session.scalars(select(Article).order_by(Article.id)).all()
    listing = []
    for article in articles:
        polls = published_polls_by_block(article)
        listing.append({"article": article, "polls": [polls[key] for key in sorted(polls)]})
    return page("embed/index.html", listing=listing)


ARTICLE_SLUG = re.compile(r"[a-z0-9-]{1,120}")


@bp.get("/articles/<slug>")
@limited
def article_page(slug: str):
    if not demo_pages_enabled():
        return not_found("The demo pages are turned off (DEMO_PAGES=false).")
    article = (
        db.session.scalar(select(Article).where(Article.slug == slug))
        if ARTICLE_SLUG.fullmatch(slug)
        else None  # no slug of ours looks like this (and PostgreSQL refuses a NUL in a query)
    )
    if article is None:
        return not_found(f"No article {slug!r} here.")
    content = article_content(article)
    first_poll = next((value for _, value in content if isinstance(value, Poll)), None)
    return page(
        "embed/article.html",
        article=article,
        content=[
            (kind, poll_box(value, reserve_inline=False) if isinstance(value, Poll) else value)
            for kind, value in content
        ],
        snippet=script_snippet(first_poll) if first_poll else None,
    )
