"""Articles: submitted (JSON or a file upload), listed, read, and given hand-written polls."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import abort

from pollserver.api.admin.blueprint import MAX_PAGE_SIZE, PAGE_SIZE, actor_name, blp, requires
from pollserver.api.admin.documents import (
    article_summary,
    poll_detail,
    poll_summaries,
    set_item_count,
)
from pollserver.api.admin.schemas import (
    ArticleDetailSchema,
    ArticleListArgsSchema,
    ArticleSubmissionResultSchema,
    ArticleSubmissionSchema,
    ArticleSummarySchema,
    ArticleUploadFieldsSchema,
    ArticleUploadSchema,
    DefinitionSchema,
    PollDetailSchema,
)
from pollserver.api.openapi_document import request_body
from pollserver.core import builder
from pollserver.core.roles import Permission
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import db
from pollserver.loaders import load_article
from pollserver.services.articles import (
    ImportStatus,
    articles_query,
    attach_definition,
    delete_article,
    submit_article,
)
from pollserver.services.listing import count_rows, page_of


def read_uploaded_article() -> tuple[bytes, str | None, str | None, str | None]:
    """(raw bytes, source, format, file name) from a multipart/form-data file upload."""
    upload = request.files.get("file")
    if upload is None:
        abort(422, message="Send the article as a 'file' field.", messages={"file": ["missing"]})
    try:
        fields = ArticleUploadFieldsSchema().load(request.form, unknown=ma.EXCLUDE)
    except ma.ValidationError as error:
        abort(422, messages=error.messages)
    filename = PurePath((upload.filename or "").replace("\\", "/")).name[:200] or None
    raw = upload.read(builder.MAX_ARTICLE_BYTES + 1)
    return raw, fields["source"], fields["format"], filename


def read_article_submission() -> tuple[bytes, str | None, str | None, str | None]:
    """(raw bytes, source, format, file name) from a JSON body (or, as clients sent it before
    ``/articles/upload``, a file upload)."""
    if request.mimetype == "multipart/form-data":
        return read_uploaded_article()
    body = request.get_json(silent=True)
    if body is None:
        abort(
            415 if not request.is_json else 400,
            message="Send JSON {'body': …}, or the file to /api/v1/admin/articles/upload.",
        )
    try:
        fields = ArticleSubmissionSchema().load(body)
    except ma.ValidationError as error:
        abort(422, messages=error.messages)
    return fields["body"].encode(), fields["source"], fields["format"], None


def described_as_a_submission(view):
    """The replies to an article, however it was sent (JSON or a file)."""
    decorators = [
        requires(Permission.MODERATE),
        blp.response(201, ArticleSubmissionResultSchema, description="A new article"),
        blp.alt_response(
            200, schema=ArticleSubmissionResultSchema, description="A known source, updated or not"
        ),
        blp.alt_response(
            409,
            schema=ErrorResponseSchema,
            description="The article changed where an editor changed its poll: nothing replaced "
            '(`details.reason` "edited_on_the_desk")',
        ),
        blp.alt_response(413, schema=ErrorResponseSchema, description="Body too large"),
        blp.alt_response(
            422, schema=ErrorResponseSchema, description="Not a readable article, or a bad field"
        ),
    ]
    for decorator in reversed(decorators):
        view = decorator(view)
    return view


def submitted(raw: bytes, source: str | None, article_format: str | None, filename: str | None):
    """Store an article and reply with its draft polls (see ``Articles.post``)."""
    begin_write_transaction()
    outcome = submit_article(
        db.session,
        raw,
        source=source,
        format=article_format,
        filename=filename,
        actor=actor_name(),
    )
    if outcome.status is ImportStatus.FAILED or outcome.article is None:
        db.session.rollback()
        abort(422, message=outcome.message, messages={"article": [outcome.message]})
    if outcome.status is ImportStatus.CONFLICT:
        db.session.rollback()
        abort(409, message=outcome.message, errors={"reason": EDITED_ON_THE_DESK})
    db.session.commit()
    now = utcnow()
    document = {
        "status": str(outcome.status),
        "article": article_summary(outcome.article),
        "polls": poll_summaries(outcome.polls, now),
        "warnings": outcome.warnings,
        "message": outcome.message,
        "changes": outcome.changes,
    }
    return document, 201 if outcome.status is ImportStatus.CREATED else 200


EDITED_ON_THE_DESK = "edited_on_the_desk"


@blp.route("/articles")
class Articles(MethodView):
    @blp.doc(operationId="listArticles")
    @requires(Permission.READ)
    @blp.arguments(ArticleListArgsSchema, location="query")
    @blp.response(200, ArticleSummarySchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """Articles, newest first, with their polls; `needs_poll=true` lists those without one."""
        query = articles_query(needs_poll=args.get("needs_poll"))
        set_item_count(pagination_parameters, count_rows(db.session, query))
        articles = page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        return [article_summary(article) for article in articles]

    @blp.doc(
        operationId="submitArticle",
        requestBody=request_body("application/json", ArticleSubmissionSchema),
    )
    @described_as_a_submission
    def post(self):
        """Submit an article's text or HTML: get its draft polls.

        The builder finds the yes/no flowcharts; each becomes a draft poll, returned with the
        builder's warnings. An article without one is stored too, marked as needing a poll.
        Submitting the same source again rebuilds its polls from the editors' trees with the
        article's changes merged in (a new draft version where a poll has answers); where both
        changed the same thing nothing is replaced (409). The same text again, under any
        source, changes nothing. A file is sent to `/articles/upload`.
        """
        # A file upload is taken here too, as it was before `/articles/upload` (one media type
        # to an operation: generated clients could not offer two).
        return submitted(*read_article_submission())


@blp.route("/articles/upload")
class ArticleUploads(MethodView):
    @blp.doc(
        operationId="uploadArticle",
        requestBody=request_body("multipart/form-data", ArticleUploadSchema),
    )
    @described_as_a_submission
    def post(self):
        """Submit an article as a file (multipart/form-data: `file`, optional `source` and
        `format`): get its draft polls, as `POST /articles` does."""
        return submitted(*read_uploaded_article())


@blp.route("/articles/<int:article_id>")
class ArticleResource(MethodView):
    @blp.doc(operationId="getArticle")
    @requires(Permission.READ)
    @blp.response(200, ArticleDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such article")
    def get(self, article_id: int):
        """An article with its body and polls."""
        article = load_article(article_id)
        return {**article_summary(article), "body": article.body}

    @blp.doc(operationId="deleteArticle")
    @requires(Permission.MODERATE)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such article")
    @blp.alt_response(
        409, schema=ErrorResponseSchema, description="A poll of it has answers, or is open"
    )
    def delete(self, article_id: int):
        """Delete an article with its polls, when none has answers or is open or paused.

        The audit log keeps what was deleted.
        """
        begin_write_transaction()
        article = load_article(article_id)
        delete_article(db.session, article, actor_name())
        db.session.commit()


@blp.route("/articles/<int:article_id>/polls")
class ArticlePolls(MethodView):
    @blp.doc(operationId="createArticlePoll")
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @blp.response(201, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such article")
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def post(self, definition: dict[str, Any], article_id: int):
        """Attach a hand-written definition to an article: a new draft poll."""
        begin_write_transaction()
        article = load_article(article_id)
        poll = attach_definition(db.session, article, definition, actor_name())
        db.session.commit()
        return poll_detail(poll)
