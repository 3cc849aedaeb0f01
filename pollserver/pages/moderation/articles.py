"""The desk's articles: bring one in (pasted or uploaded), see the draft polls the builder made
with its warnings beside the nodes they concern, and delete an article nobody answered."""

from __future__ import annotations

import re
from pathlib import PurePath

from flask import flash, redirect, render_template, request, url_for

from pollserver import auth
from pollserver.core import builder
from pollserver.core.definition import warnings_by_node
from pollserver.core.refusals import Refused
from pollserver.core.roles import Permission
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.loaders import load_article
from pollserver.pages.moderation.blueprint import bp
from pollserver.services.articles import (
    ImportStatus,
    articles_query,
    delete_article,
    deletion_refusal,
    submit_article,
)
from pollserver.services.listing import page_of
from pollserver.services.moderation.polls import poll_counts
from pollserver.services.polls import definition_of

ARTICLE_LIST_SIZE = 200
IMPORT_WORDS = {
    ImportStatus.CREATED: "The article is in",
    ImportStatus.UPDATED: "The article is updated",
    ImportStatus.UNCHANGED: "This article was already here: nothing changed",
    ImportStatus.CONFLICT: "Nothing was replaced",
}


@bp.get("/articles")
@auth.requires(Permission.READ)
def articles():
    listed = page_of(db.session, articles_query(), offset=0, limit=ARTICLE_LIST_SIZE)
    return render_template("admin/articles.html", articles=listed)


def new_article_page(error: str | None = None, status: int = 200, **typed: str):
    page = render_template("admin/new_article.html", error=error, typed=typed)
    return page, status


@bp.route("/articles/new", methods=["GET", "POST"])
@auth.requires(Permission.MODERATE)
def new_article():
    if request.method == "GET":
        return new_article_page()
    pasted = request.form.get("body", "")
    source = request.form.get("source", "").strip() or None
    article_format = request.form.get("format") or None
    upload = request.files.get("file")
    filename = None
    if upload is not None and upload.filename:
        filename = PurePath(upload.filename.replace("\\", "/")).name[:200] or None
        raw = upload.read(builder.MAX_ARTICLE_BYTES + 1)
    else:
        raw = pasted.encode()
    typed = {"body": pasted, "source": source or "", "format": article_format or ""}
    if not raw.strip():
        return new_article_page("Paste the article's text or HTML, or choose a file.", 422, **typed)
    if article_format is not None and article_format not in builder.FORMATS:
        return new_article_page("Choose plain text, HTML or a poll definition.", 422, **typed)
    if source is not None and (len(source) > 500 or re.search(r"[\x00-\x1f\x7f]", source)):
        return new_article_page(
            "The source must be one line of at most 500 characters.", 422, **typed
        )
    begin_write_transaction()
    outcome = submit_article(
        db.session,
        raw,
        source=source,
        format=article_format,
        filename=filename,
        actor=auth.current_actor().name,
    )
    if outcome.status is ImportStatus.CONFLICT:
        db.session.rollback()
        return new_article_page(outcome.message, 409, **typed)
    if outcome.status is ImportStatus.FAILED or outcome.article is None:
        db.session.rollback()
        return new_article_page(
            f"That could not be read as an article: {outcome.message}", 422, **typed
        )
    db.session.commit()
    flash(f"{IMPORT_WORDS[outcome.status]}.")
    if outcome.message:  # why the builder found no poll: the editor makes one by hand
        flash(f"The builder found no poll: {outcome.message}", "error")
    for warning in outcome.warnings:
        flash(f"Builder: {warning}", "warning")
    for poll_id, changes in outcome.changes.items():
        flash(f"The article changed poll {poll_id}: {'; '.join(changes)}.")
    return redirect(url_for("admin_pages.article_page", article_id=outcome.article.id), code=303)


@bp.get("/articles/<int:article_id>")
@auth.requires(Permission.READ)
def article_page(article_id: int):
    article = load_article(article_id)
    polls = sorted(article.polls, key=lambda poll: (poll.block_index, poll.version))
    counts = poll_counts(db.session, [poll.id for poll in polls])
    drafts = []
    for poll in polls:
        definition = definition_of(poll)
        drafts.append((poll, definition, warnings_by_node(definition)))
    return render_template(
        "admin/article.html",
        article=article,
        drafts=drafts,
        counts=counts,
        deletable=deletion_refusal(db.session, article) is None,
        now=utcnow(),
    )


@bp.post("/articles/<int:article_id>/delete")
@auth.requires(Permission.MODERATE)
def remove_article(article_id: int):
    begin_write_transaction()
    article = load_article(article_id)
    title = article.title or article.source
    try:
        delete_article(db.session, article, auth.current_actor().name)
    except Refused as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
        return redirect(url_for("admin_pages.article_page", article_id=article_id), code=303)
    db.session.commit()
    flash(f"“{title}” and its polls are deleted; the audit log keeps what they were.")
    return redirect(url_for("admin_pages.articles"), code=303)
