"""The demo pages a newcomer sees at ``/``: the stored articles, each with its poll where the
flowchart was. Routes of the ``embed`` blueprint (its pages' CSP and limits apply).

Turned off with ``DEMO_PAGES=false``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import defer

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


# A rendered article body per article version, its published polls and the public URL. The
# body is the costly part of a page (a 2 MB article took half a second to parse per request);
# rendered once here, each request only wraps it in the page with its own CSP nonce.
RENDERED_ARTICLES_KEPT = 64
_rendered_articles: OrderedDict[tuple, Markup] = OrderedDict()
_rendered_articles_lock = threading.Lock()


def rendered_article(article: Article, polls: dict[int, Poll]) -> Markup:
    """The article's body as HTML (headline, paragraphs, a poll box where each flowchart was),
    rendered once per version of the article and of its published polls."""
    key = (
        article.id,
        article.content_hash,
        article.title,
        current_app.config["POLLSERVER_PUBLIC_URL"],
        tuple(
            (index, poll.public_id, poll.version, poll.updated_at, poll.title)
            for index, poll in sorted(polls.items())
        ),
    )
    with _rendered_articles_lock:
        cached = _rendered_articles.get(key)
        if cached is not None:
            _rendered_articles.move_to_end(key)
            return cached
    content = [
        (kind, poll_box(value, reserve_inline=False) if isinstance(value, Poll) else value)
        for kind, value in article_content(article, polls)
    ]
    rendered = Markup(render_template("embed/article_body.html", article=article, content=content))
    with _rendered_articles_lock:
        _rendered_articles[key] = rendered
        while len(_rendered_articles) > RENDERED_ARTICLES_KEPT:
            _rendered_articles.popitem(last=False)
    return rendered


def article_content(article: Article, polls: dict[int, Poll]) -> list[tuple[str, str | Poll]]:
    """The article as ("p", text) paragraphs and ("poll", poll) where its flowcharts were.

    Page chrome and the headline line are left out (the page shows the headline as its <h1>);
    a flowchart whose poll is not published yet is left out entirely.
    """
    try:
        parsed = builder.parse_article(
            article.body.encode("utf-8"), article.source, format=article.format
        )
    except builder.ArticleError:
        parsed = None
    if parsed is None or parsed.format == "definition":
        return [("poll", polls[index]) for index in sorted(polls)]
    span_of_line: dict[int, int] = {}
    for block_index, (start, end) in builder.flowchart_line_spans(parsed).items():
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
        # The body (up to 2 MB) is loaded only when its page is not rendered yet.
        db.session.scalar(select(Article).where(Article.slug == slug).options(defer(Article.body)))
        if ARTICLE_SLUG.fullmatch(slug)
        else None  # no slug of ours looks like this (and PostgreSQL refuses a NUL in a query)
    )
    if article is None:
        return not_found(f"No article {slug!r} here.")
    polls = published_polls_by_block(article)
    first_poll = polls[min(polls)] if polls else None
    return page(
        "embed/article.html",
        article=article,
        body=rendered_article(article, polls),
        snippet=script_snippet(first_poll) if first_poll else None,
    )
