"""The moderation API under /api/v1/admin: Bearer tokens, three roles, never CORS-open.

Every view declares the permission it needs with :func:`requires`; the blueprint's
``before_request`` hook (``auth.authorize_bearer_request``) refuses a missing, unknown or revoked
token (401) and a role without that permission (403) before the view runs. Refused tokens count
towards a per-address limit (``RATELIMIT_AUTH_FAILURES``). The rules themselves live in
``pollserver.moderation`` and ``pollserver.auth``; views load, call and translate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePath
from typing import Any

import marshmallow as ma
from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import validate
from sqlalchemy import select

from pollserver import auth, builder, moderation
from pollserver.api.cache import compute_results, forget_results, tree_of
from pollserver.auth import Permission
from pollserver.database import begin_write_transaction, in_write_transaction
from pollserver.definition import NODE_ID_PATTERN, DefinitionError, validate_definition
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import api, db
from pollserver.importing import ImportStatus
from pollserver.models import Article, AuditEvent, Poll, PollStatus, TokenRole, utcnow
from pollserver.moderation import ModerationRefused, ResponseSelection
from pollserver.polls import (
    RESULTS_VISIBILITIES,
    TRANSITIONS,
    InvalidTransition,
    effective_status,
    find_poll,
    poll_has_answers,
)
from pollserver.schemas import PathStepSchema, ResultsSchema, StrictSchema

ADMIN_TOKEN_SCHEME = "AdminToken"
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$"
ADDRESS_HASH_PATTERN = r"^[0-9a-f]{64}$"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_SELECTED_RESPONDENTS = 10_000
MAX_ARTICLE_ID = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
MAX_RESPONDENT_ID = 2**63 - 1
PUBLIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
# Text that goes into a query: no control characters (PostgreSQL refuses NUL in a string).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/api/v1/admin",
    description=(
        "Moderation: polls, articles, results, response moderation, exports, audit log, tokens. "
        "Send `Authorization: Bearer <token>`; analysts read, moderators also change polls and "
        "responses, admins also manage tokens and delete archived polls. Never CORS-open."
    ),
)
blp.before_request(auth.authorize_bearer_request)
blp.after_request(auth.without_cross_origin_headers)
auth.limit_failed_authentication(blp)


@blp.record_once
def document_token_scheme(state) -> None:
    # Runs inside Api.register_blueprint, when this app's spec exists.
    api.spec.components.security_scheme(
        ADMIN_TOKEN_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "`pollserver tokens create`"},
    )


def requires(permission: Permission) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare and document the permission a view needs (enforced by the blueprint's hook)."""
    roles = " or ".join(str(role) for role in auth.roles_with(permission))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(
            401, schema=ErrorResponseSchema, description="Missing, unknown or revoked token"
        )(view)
        view = blp.alt_response(
            403, schema=ErrorResponseSchema, description=f"The token's role is not {roles}"
        )(view)
        view = blp.alt_response(
            429, schema=ErrorResponseSchema, description="Too many refused tokens from here"
        )(view)
        view = blp.doc(security=[{ADMIN_TOKEN_SCHEME: []}])(view)
        return auth.requires(permission)(view)

    return decorate


def actor_name() -> str:
    return auth.current_actor().name


# --- schemas ------------------------------------------------------------------------------------


class DefinitionNodeSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=validate.Regexp(NODE_ID_PATTERN))
    type = ma.fields.String(required=True, validate=validate.OneOf(["question", "outcome"]))
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=280))
    yes = ma.fields.String(allow_none=True, metadata={"description": "Questions: a node or null"})
    no = ma.fields.String(allow_none=True, metadata={"description": "Questions: a node or null"})
    next = ma.fields.String(
        allow_none=True, metadata={"description": "Outcomes: an outcome or null"}
    )


class DefinitionSchema(ma.Schema):
    """The canonical poll definition, validated exactly as the builder's output is.

    The fields describe it for the OpenAPI document; loading hands the whole body to
    ``pollserver.definition.validate_definition``, whose messages name the nodes at fault.
    """

    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=280))
    root = ma.fields.String(required=True, validate=validate.Regexp(NODE_ID_PATTERN))
    nodes = ma.fields.List(
        ma.fields.Nested(DefinitionNodeSchema), required=True, validate=validate.Length(1, 50)
    )

    def load(  # type: ignore[override]
        self, data: Any, *, many: bool | None = None, partial: Any = None, unknown: Any = None
    ) -> dict[str, Any]:
        # One rule set for every way a definition arrives: the builder's schema decides.
        try:
            return validate_definition(data)
        except DefinitionError as error:
            raise ma.ValidationError(error.messages) from None


class ArticleRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(allow_none=True)
    source = ma.fields.String(required=True)


class PollCountsSchema(ma.Schema):
    respondents = ma.fields.Integer(required=True, metadata={"description": "Visible readers"})
    finished = ma.fields.Integer(required=True, metadata={"description": "Visible, finished"})
    hidden = ma.fields.Integer(required=True, metadata={"description": "Hidden by moderation"})


class PollSettingsSchema(ma.Schema):
    results_visibility = ma.fields.String(required=True)
    allow_answer_changes = ma.fields.Boolean(required=True)
    allowed_origins = ma.fields.List(ma.fields.String(), required=True)
    language = ma.fields.String(required=True)
    close_at = ma.fields.DateTime(allow_none=True, required=True)


class PollSummarySchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The poll's public id"})
    title = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "As readers see it: closed once close_at passed"}
    )
    version = ma.fields.Integer(required=True)
    previous_version = ma.fields.String(allow_none=True, required=True)
    article = ma.fields.Nested(ArticleRefSchema, allow_none=True, required=True)
    close_at = ma.fields.DateTime(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    opened_at = ma.fields.DateTime(allow_none=True, required=True)
    closed_at = ma.fields.DateTime(allow_none=True, required=True)
    counts = ma.fields.Nested(PollCountsSchema, required=True)


class PollDetailSchema(PollSummarySchema):
    settings = ma.fields.Nested(PollSettingsSchema, required=True)
    definition = ma.fields.Nested(DefinitionSchema, required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)
    has_answers = ma.fields.Boolean(required=True)
    structure_frozen = ma.fields.Boolean(
        required=True, metadata={"description": "True once answered: text fixes and settings only"}
    )
    allowed_transitions = ma.fields.List(ma.fields.String(), required=True)
    later_versions = ma.fields.List(ma.fields.String(), required=True)


class PollListArgsSchema(ma.Schema):
    status = ma.fields.String(validate=validate.OneOf([str(status) for status in PollStatus]))
    article = ma.fields.Integer(
        validate=validate.Range(min=1, max=MAX_ARTICLE_ID),
        metadata={"description": "Only polls of this article"},
    )
    q = ma.fields.String(
        validate=[validate.Length(max=280), validate.Regexp(PLAIN_TEXT_PATTERN)],
        metadata={"description": "Words in the title"},
    )


class StatusChangeSchema(StrictSchema):
    status = ma.fields.String(
        required=True,
        validate=validate.OneOf([str(status) for status in PollStatus if status != "draft"]),
        metadata={"description": "draft → open ⇄ paused → closed → archived; closed → open"},
    )


def normalise_origin(origin: str) -> str:
    return origin.rstrip("/").lower()


class SettingsChangeSchema(StrictSchema):
    results_visibility = ma.fields.String(validate=validate.OneOf(RESULTS_VISIBILITIES))
    allow_answer_changes = ma.fields.Boolean()
    allowed_origins = ma.fields.List(
        ma.fields.String(
            validate=validate.Regexp(
                ORIGIN_PATTERN, error="an origin is scheme://host[:port], e.g. https://example.com"
            )
        ),
        validate=validate.Length(max=50),
        metadata={"description": "Origins allowed to embed the poll; empty means any"},
    )
    language = ma.fields.String(validate=validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))
    close_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "When the poll closes by itself; null: never"}
    )

    @ma.validates_schema
    def require_a_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("name at least one setting to change")

    @ma.post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "allowed_origins" in data:
            data["allowed_origins"] = sorted({normalise_origin(o) for o in data["allowed_origins"]})
        return data


class DefinitionEditSchema(ma.Schema):
    change = ma.fields.String(
        required=True,
        metadata={"description": "none, text (title/texts fixed in place) or structure"},
    )
    poll = ma.fields.Nested(PollDetailSchema, required=True)


class WindowArgsSchema(ma.Schema):
    since = ma.fields.AwareDateTime(metadata={"description": "From this time (UTC, inclusive)"})
    until = ma.fields.AwareDateTime(metadata={"description": "Before this time (UTC)"})

    @ma.validates_schema
    def check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ma.ValidationError("'since' must be before 'until'", "until")


class GroupArgsSchema(WindowArgsSchema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class RespondentArgsSchema(WindowArgsSchema):
    address_hash = ma.fields.String(validate=validate.Regexp(ADDRESS_HASH_PATTERN))
    hidden = ma.fields.Boolean()


class HourActivitySchema(ma.Schema):
    hour = ma.fields.String(required=True, metadata={"description": "Start of the hour, UTC"})
    answers = ma.fields.Integer(required=True)
    hidden_answers = ma.fields.Integer(required=True)
    respondents_started = ma.fields.Integer(required=True)


class ActivitySchema(ma.Schema):
    poll = ma.fields.String(required=True)
    hours = ma.fields.List(ma.fields.Nested(HourActivitySchema), required=True)


class AddressGroupSchema(ma.Schema):
    address_hash = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "HMAC of the address under the day's salt; never the address"},
    )
    respondents = ma.fields.Integer(required=True)
    hidden = ma.fields.Integer(required=True)
    finished = ma.fields.Integer(required=True)
    first_started = ma.fields.DateTime(required=True)
    last_started = ma.fields.DateTime(required=True)


class AddressGroupsSchema(ma.Schema):
    poll = ma.fields.String(required=True)
    since = ma.fields.DateTime(allow_none=True, required=True)
    until = ma.fields.DateTime(allow_none=True, required=True)
    groups = ma.fields.List(ma.fields.Nested(AddressGroupSchema), required=True)


class RespondentSchema(ma.Schema):
    respondent = ma.fields.Integer(required=True, metadata={"description": "Pseudonym"})
    started = ma.fields.String(required=True)
    finished = ma.fields.String(allow_none=True, required=True)
    path = ma.fields.List(ma.fields.Nested(PathStepSchema), required=True)
    outcome = ma.fields.List(ma.fields.String(), required=True)
    hidden = ma.fields.Boolean(required=True)
    address_hash = ma.fields.String(allow_none=True, required=True)


class ResponseSelectionSchema(StrictSchema):
    """Which respondents to hide or restore; every criterion given must hold."""

    respondents = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_RESPONDENT_ID)),
        validate=validate.Length(min=1, max=MAX_SELECTED_RESPONDENTS),
        metadata={"description": "Respondent pseudonyms (from the listing or an export)"},
    )
    address_hash = ma.fields.String(validate=validate.Regexp(ADDRESS_HASH_PATTERN))
    started_from = ma.fields.AwareDateTime(metadata={"description": "Started at or after"})
    started_until = ma.fields.AwareDateTime(metadata={"description": "Started before"})

    @ma.validates_schema
    def check_selection(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError(
                "name respondents, an address_hash, or a started_from/started_until window"
            )
        start, end = data.get("started_from"), data.get("started_until")
        if start and end and start >= end:
            raise ma.ValidationError("'started_from' must be before 'started_until'")

    @ma.post_load
    def to_selection(self, data: dict[str, Any], **kwargs: Any) -> ResponseSelection:
        return ResponseSelection(
            respondent_ids=tuple(data.get("respondents", ())),
            address_hash=data.get("address_hash"),
            started_from=data.get("started_from"),
            started_until=data.get("started_until"),
        )


class ModerationOutcomeSchema(ma.Schema):
    poll = ma.fields.String(required=True)
    hidden = ma.fields.Boolean(required=True, metadata={"description": "The flag now set"})
    matched = ma.fields.Integer(required=True, metadata={"description": "Respondents selected"})
    changed = ma.fields.Integer(required=True, metadata={"description": "Of those, flipped"})


class ArticleSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    source = ma.fields.String(required=True)
    title = ma.fields.String(allow_none=True, required=True)
    format = ma.fields.String(required=True)
    needs_poll = ma.fields.Boolean(
        required=True, metadata={"description": "No flowchart found: attach a definition"}
    )
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    polls = ma.fields.List(ma.fields.Dict(), required=True)


class ArticleDetailSchema(ArticleSummarySchema):
    body = ma.fields.String(required=True)


class ArticleListArgsSchema(ma.Schema):
    needs_poll = ma.fields.Boolean(metadata={"description": "Only articles that need a poll"})


class ArticleSubmissionSchema(StrictSchema):
    body = ma.fields.String(required=True, validate=validate.Length(min=1))
    format = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(builder.FORMATS),
        metadata={"description": "Guessed from the source's suffix, then the content"},
    )
    source = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(min=1, max=500), validate.Regexp(PLAIN_TEXT_PATTERN)],
        metadata={"description": "Where the article lives (its URL); the same source updates it"},
    )


class ArticleUploadFieldsSchema(ma.Schema):
    format = ma.fields.String(load_default=None, validate=validate.OneOf(builder.FORMATS))
    source = ma.fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=500), validate.Regexp(PLAIN_TEXT_PATTERN)],
    )


class ArticleSubmissionResultSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "created/updated/unchanged"})
    article = ma.fields.Nested(ArticleSummarySchema, required=True)
    polls = ma.fields.List(ma.fields.Nested(PollSummarySchema), required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)
    message = ma.fields.String(required=True, metadata={"description": "Why there is no poll"})


class AuditArgsSchema(WindowArgsSchema):
    poll = ma.fields.String(
        validate=validate.Regexp(PUBLIC_ID_PATTERN), metadata={"description": "A poll's id"}
    )
    action = ma.fields.String(
        validate=validate.Regexp(r"^[a-z_.]{1,64}$"),
        metadata={"description": "An action, or a family ending in '.' (e.g. 'responses.')"},
    )
    actor = ma.fields.String(
        validate=validate.Regexp(auth.TOKEN_NAME_PATTERN),
        metadata={"description": "A token name ('cli' for the command line)"},
    )


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)
    actor = ma.fields.String(required=True)
    action = ma.fields.String(required=True)
    poll = ma.fields.String(attribute="poll_public_id", allow_none=True, required=True)
    before = ma.fields.Dict(allow_none=True, required=True)
    after = ma.fields.Dict(allow_none=True, required=True)


class TokenSchema(ma.Schema):
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    prefix = ma.fields.String(attribute="token_prefix", required=True)
    created_at = ma.fields.DateTime(required=True)
    last_used_at = ma.fields.DateTime(allow_none=True, required=True)
    revoked_at = ma.fields.DateTime(allow_none=True, required=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(
        required=True, metadata={"description": "Shown this once; only its SHA-256 is stored"}
    )


class TokenRequestSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=validate.Regexp(auth.TOKEN_NAME_PATTERN))
    role = ma.fields.String(
        required=True, validate=validate.OneOf([str(role) for role in TokenRole])
    )


class ActorSchema(ma.Schema):
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    permissions = ma.fields.List(ma.fields.String(), required=True)


# --- shared steps -------------------------------------------------------------------------------


def load_poll(poll_id: str) -> Poll:
    # Writers lock the poll first: an edit must see its answers, and hold them off, to the end.
    poll = find_poll(db.session, poll_id, for_update=in_write_transaction())
    if poll is None:
        abort(404, message=f"No poll {poll_id!r}.")
    return poll


def load_article(article_id: int) -> Article:
    article = db.session.get(Article, article_id) if article_id <= MAX_ARTICLE_ID else None
    if article is None:
        abort(404, message=f"No article {article_id}.")
    return article


def refuse(refusal: ModerationRefused):
    db.session.rollback()
    abort(refusal.status, message=refusal.message, errors=refusal.details)


def public_ids_of(poll_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {poll_id for poll_id in poll_ids if poll_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(Poll.id, Poll.public_id).where(Poll.id.in_(wanted)))
    return {poll_id: public_id for poll_id, public_id in rows}


def poll_summaries(polls: list[Poll], now: dt.datetime) -> list[dict[str, Any]]:
    counts = moderation.poll_counts(db.session, [poll.id for poll in polls])
    previous = public_ids_of(poll.previous_version_id for poll in polls)
    return [poll_summary(poll, counts[poll.id], previous, now) for poll in polls]


def poll_summary(
    poll: Poll, counts: moderation.PollCounts, previous: dict[int, str], now: dt.datetime
) -> dict[str, Any]:
    article = poll.article
    return {
        "id": poll.public_id,
        "title": poll.title,
        "status": str(effective_status(poll, now)),
        "version": poll.version,
        "previous_version": previous.get(poll.previous_version_id or 0),
        "article": (
            {"id": article.id, "title": article.title, "source": article.source}
            if article
            else None
        ),
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
    summary = moderation.definition_summary(poll)
    status = effective_status(poll, now)
    document.update(
        settings={
            "results_visibility": poll.settings.get("results_visibility", "after_answer"),
            "allow_answer_changes": bool(poll.settings.get("allow_answer_changes")),
            "allowed_origins": list(poll.settings.get("allowed_origins") or []),
            "language": poll.settings.get("language", "en"),
            "close_at": poll.close_at,
        },
        definition=summary["definition"],
        warnings=summary["warnings"],
        has_answers=has_answers,
        structure_frozen=has_answers,
        allowed_transitions=sorted(str(target) for target in TRANSITIONS[status]),
        later_versions=[later.public_id for later in moderation.later_versions(db.session, poll)],
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


def respondent_document(record: moderation.ResponseRecord) -> dict[str, Any]:
    return {**moderation.export_document(record), "address_hash": record.address_hash}


# --- polls --------------------------------------------------------------------------------------


@blp.route("/me")
class CurrentToken(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ActorSchema)
    def get(self):
        """The token making this request: its name, role and permissions."""
        actor = auth.current_actor()
        permissions = sorted(str(p) for p in Permission if actor.can(p))
        return {"name": actor.name, "role": str(actor.role), "permissions": permissions}


@blp.route("/polls")
class Polls(MethodView):
    @requires(Permission.READ)
    @blp.arguments(PollListArgsSchema, location="query")
    @blp.response(200, PollSummarySchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """Every poll, newest change first; filter by (effective) status, article or title."""
        now = utcnow()
        query = moderation.polls_query(
            status=PollStatus(args["status"]) if "status" in args else None,
            article_id=args.get("article"),
            search=args.get("q"),
            now=now,
        )
        set_item_count(pagination_parameters, moderation.count_rows(db.session, query))
        polls = moderation.page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        return poll_summaries(polls, now)


@blp.route("/polls/<poll_id>")
class PollResource(MethodView):
    @requires(Permission.READ)
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, poll_id: str):
        """A poll with its full definition, settings, counts and what it may become next."""
        return poll_detail(load_poll(poll_id))

    @requires(Permission.ADMINISTER)
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The poll is not archived")
    def delete(self, poll_id: str):
        """Delete an archived poll with all its responses (admin only; the audit log keeps it)."""
        begin_write_transaction()
        poll = load_poll(poll_id)
        try:
            moderation.delete_archived_poll(db.session, poll, actor_name())
        except ModerationRefused as refusal:
            refuse(refusal)
        db.session.commit()


@blp.route("/polls/<poll_id>/status")
class PollStatusChange(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="Not a valid transition")
    def post(self, body: dict[str, Any], poll_id: str):
        """Open, pause, close, reopen or archive a poll (only valid transitions)."""
        begin_write_transaction()
        poll = load_poll(poll_id)
        try:
            moderation.transition_poll(db.session, poll, PollStatus(body["status"]), actor_name())
        except InvalidTransition as error:
            db.session.rollback()
            abort(
                409,
                message=str(error),
                errors={
                    "status": str(error.current),
                    "requested": str(error.target),
                    "allowed": sorted(str(target) for target in TRANSITIONS[error.current]),
                },
            )
        db.session.commit()
        return poll_detail(poll)


@blp.route("/polls/<poll_id>/settings")
class PollSettings(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(SettingsChangeSchema)
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The poll is archived")
    def patch(self, body: dict[str, Any], poll_id: str):
        """Change visibility, allowed origins, answer changes, language or close time.

        Allowed whether or not the poll has answers; each change is recorded in the audit log.
        A close time in the past closes an open poll at once.
        """
        begin_write_transaction()
        poll = load_poll(poll_id)
        try:
            moderation.update_settings(db.session, poll, body, actor_name())
        except ModerationRefused as refusal:
            refuse(refusal)
        db.session.commit()
        forget_results(poll)
        return poll_detail(poll)


@blp.route("/polls/<poll_id>/definition")
class PollDefinition(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @blp.response(200, DefinitionEditSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    @blp.alt_response(
        409,
        schema=ErrorResponseSchema,
        description="A structural change to a poll with answers, or an archived poll",
    )
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def put(self, definition: dict[str, Any], poll_id: str):
        """Replace a poll's definition (validated like the builder's).

        Free while the poll has no answers. Once it has answers only the title and node texts
        may change; a structural change is refused (409): make a new version instead.
        """
        begin_write_transaction()
        poll = load_poll(poll_id)
        try:
            change = moderation.edit_definition(db.session, poll, definition, actor_name())
        except ModerationRefused as refusal:
            refuse(refusal)
        db.session.commit()
        forget_results(poll)
        return {"change": str(change), "poll": poll_detail(poll)}


@blp.route("/polls/<poll_id>/versions")
class PollVersions(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @blp.response(201, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def post(self, definition: dict[str, Any], poll_id: str):
        """Make a new draft version of a poll with this definition, linked to the old poll.

        The way to change the structure of a poll that has answers: the old poll and its answers
        stay as they are. The new draft takes the old poll's settings.
        """
        begin_write_transaction()
        poll = load_poll(poll_id)
        new_poll = moderation.create_new_version(db.session, poll, definition, actor_name())
        db.session.commit()
        return poll_detail(new_poll)


@blp.route("/polls/<poll_id>/results")
class PollResultsForModerators(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ResultsSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, poll_id: str):
        """Current results whatever the poll's visibility or status (hidden responses excluded)."""
        return compute_results(load_poll(poll_id))


# --- response moderation ------------------------------------------------------------------------


@blp.route("/polls/<poll_id>/activity")
class PollActivity(MethodView):
    @requires(Permission.READ)
    @blp.arguments(WindowArgsSchema, location="query")
    @blp.response(200, ActivitySchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str):
        """Answers per hour (UTC), with hidden ones and new respondents: where spikes show."""
        poll = load_poll(poll_id)
        hours = moderation.answers_per_hour(
            db.session, poll, since=args.get("since"), until=args.get("until")
        )
        return {"poll": poll.public_id, "hours": hours}


@blp.route("/polls/<poll_id>/activity/groups")
class PollAddressGroups(MethodView):
    @requires(Permission.READ)
    @blp.arguments(GroupArgsSchema, location="query")
    @blp.response(200, AddressGroupsSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str):
        """The respondents who started in a window, grouped by daily address hash (biggest first).

        The hash is an HMAC under a salt deleted after two days: it groups, it never identifies.
        """
        poll = load_poll(poll_id)
        groups = moderation.respondents_by_address(
            db.session,
            poll,
            started_from=args.get("since"),
            started_until=args.get("until"),
            limit=args["limit"],
        )
        return {
            "poll": poll.public_id,
            "since": args.get("since"),
            "until": args.get("until"),
            "groups": groups,
        }


@blp.route("/polls/<poll_id>/respondents")
class PollRespondents(MethodView):
    @requires(Permission.READ)
    @blp.arguments(RespondentArgsSchema, location="query")
    @blp.response(200, RespondentSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str, pagination_parameters):
        """Respondents with their paths, by start time; filter by window, address hash, hidden."""
        poll = load_poll(poll_id)
        selection = ResponseSelection(
            address_hash=args.get("address_hash"),
            started_from=args.get("since"),
            started_until=args.get("until"),
        )
        query = moderation.respondents_query(poll, selection, args.get("hidden"))
        set_item_count(pagination_parameters, moderation.count_rows(db.session, query))
        ids = moderation.page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        records = moderation.response_records(db.session, poll, tree_of(poll), respondent_ids=ids)
        return [respondent_document(record) for record in records]


def moderate(poll_id: str, selection: ResponseSelection, *, hidden: bool) -> dict[str, Any]:
    begin_write_transaction()
    poll = load_poll(poll_id)
    outcome = moderation.moderate_responses(
        db.session, poll, tree_of(poll), selection, hidden=hidden, actor=actor_name()
    )
    db.session.commit()
    forget_results(poll)  # this process's cached results must not show them a moment longer
    return {
        "poll": poll.public_id,
        "hidden": hidden,
        "matched": outcome.matched,
        "changed": outcome.changed,
    }


@blp.route("/polls/<poll_id>/responses/hide")
class HideResponses(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(ResponseSelectionSchema)
    @blp.response(200, ModerationOutcomeSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def post(self, selection: ResponseSelection, poll_id: str):
        """Hide responses by respondent, by start-time window and/or by address-hash group.

        Hidden responses leave the results at once; nothing is deleted, and restoring brings
        them back exactly.
        """
        return moderate(poll_id, selection, hidden=True)


@blp.route("/polls/<poll_id>/responses/restore")
class RestoreResponses(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(ResponseSelectionSchema)
    @blp.response(200, ModerationOutcomeSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def post(self, selection: ResponseSelection, poll_id: str):
        """Restore hidden responses (same selection as hiding); they count again at once."""
        return moderate(poll_id, selection, hidden=False)


def stream_export(
    poll_id: str,
    export_format: str,
    mimetype: str,
    lines_of: Callable[[Iterable[moderation.ResponseRecord]], Iterator[str]],
) -> Response:
    begin_write_transaction()
    poll = load_poll(poll_id)
    moderation.record_export(db.session, poll, export_format, actor_name())
    db.session.commit()
    poll = load_poll(poll_id)
    records = moderation.response_records(db.session, poll, tree_of(poll))
    response = Response(stream_with_context(lines_of(records)), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="poll-{poll.public_id}-responses.{export_format}"'
    )
    return response


@blp.route("/polls/<poll_id>/responses.csv")
class ExportCsv(MethodView):
    @requires(Permission.READ)
    @blp.response(200, content_type="text/csv", description="One row per respondent")
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, poll_id: str):
        """Every response as CSV, streamed: respondent, started, finished, path, outcome, hidden.

        `path` reads "q1:yes>q2:no", `outcome` "o1>o3". Hidden responses are included, flagged.
        """
        return stream_export(poll_id, "csv", "text/csv", moderation.csv_lines)


@blp.route("/polls/<poll_id>/responses.jsonl")
class ExportJsonLines(MethodView):
    @requires(Permission.READ)
    @blp.response(200, content_type="application/x-ndjson", description="One object per line")
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, poll_id: str):
        """Every response as JSON lines, streamed (same fields as the CSV; path as a list)."""
        return stream_export(poll_id, "jsonl", "application/x-ndjson", moderation.json_lines)


# --- articles -----------------------------------------------------------------------------------

UPLOAD_DOC = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "source": {"type": "string"},
        "format": {"type": "string", "enum": list(builder.FORMATS)},
    },
}


def read_article_submission() -> tuple[bytes, str | None, str | None, str | None]:
    """(raw bytes, source, format, file name) from a JSON body or a multipart file upload."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            abort(422, message="Send the article as a 'file' field.", errors={"file": ["missing"]})
        try:
            fields = ArticleUploadFieldsSchema().load(request.form, unknown=ma.EXCLUDE)
        except ma.ValidationError as error:
            abort(422, errors=error.messages)
        filename = PurePath((upload.filename or "").replace("\\", "/")).name[:200] or None
        raw = upload.read(builder.MAX_ARTICLE_BYTES + 1)
        return raw, fields["source"], fields["format"], filename
    body = request.get_json(silent=True)
    if body is None:
        abort(
            415 if not request.is_json else 400,
            message="Send JSON {'body': …} or a multipart/form-data upload with a 'file' field.",
        )
    try:
        fields = ArticleSubmissionSchema().load(body)
    except ma.ValidationError as error:
        abort(422, errors=error.messages)
    return fields["body"].encode(), fields["source"], fields["format"], None


@blp.route("/articles")
class Articles(MethodView):
    @requires(Permission.READ)
    @blp.arguments(ArticleListArgsSchema, location="query")
    @blp.response(200, ArticleSummarySchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """Articles, newest first, with their polls; `needs_poll=true` lists those without one."""
        query = moderation.articles_query(needs_poll=args.get("needs_poll"))
        set_item_count(pagination_parameters, moderation.count_rows(db.session, query))
        articles = moderation.page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        return [article_summary(article) for article in articles]

    @requires(Permission.MODERATE)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": ArticleSubmissionSchema},
                "multipart/form-data": {"schema": UPLOAD_DOC},
            },
        }
    )
    @blp.response(201, ArticleSubmissionResultSchema, description="A new article")
    @blp.alt_response(
        200, schema=ArticleSubmissionResultSchema, description="A known source, updated or not"
    )
    @blp.alt_response(413, schema=ErrorResponseSchema, description="Body too large")
    @blp.alt_response(
        422, schema=ErrorResponseSchema, description="Not a readable article, or a bad field"
    )
    def post(self):
        """Submit an article (text or HTML as JSON, or a file upload): get its draft polls.

        The builder finds the yes/no flowcharts; each becomes a draft poll, returned with the
        builder's warnings. An article without one is stored too, marked as needing a poll.
        Submitting the same source again updates its unanswered drafts in place.
        """
        raw, source, article_format, filename = read_article_submission()
        begin_write_transaction()
        outcome = moderation.submit_article(
            db.session,
            raw,
            source=source,
            format=article_format,
            filename=filename,
            actor=actor_name(),
        )
        if outcome.status is ImportStatus.FAILED or outcome.article is None:
            db.session.rollback()
            abort(422, message=outcome.message, errors={"article": [outcome.message]})
        db.session.commit()
        now = utcnow()
        document = {
            "status": str(outcome.status),
            "article": article_summary(outcome.article),
            "polls": poll_summaries(outcome.polls, now),
            "warnings": outcome.warnings,
            "message": outcome.message,
        }
        return document, 201 if outcome.status is ImportStatus.CREATED else 200


@blp.route("/articles/<int:article_id>")
class ArticleResource(MethodView):
    @requires(Permission.READ)
    @blp.response(200, ArticleDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such article")
    def get(self, article_id: int):
        """An article with its body and polls."""
        article = load_article(article_id)
        return {**article_summary(article), "body": article.body}


@blp.route("/articles/<int:article_id>/polls")
class ArticlePolls(MethodView):
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @blp.response(201, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such article")
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def post(self, definition: dict[str, Any], article_id: int):
        """Attach a hand-written definition to an article: a new draft poll."""
        begin_write_transaction()
        article = load_article(article_id)
        poll = moderation.attach_definition(db.session, article, definition, actor_name())
        db.session.commit()
        return poll_detail(poll)


# --- audit log ----------------------------------------------------------------------------------


@blp.route("/audit")
class AuditLog(MethodView):
    @requires(Permission.READ)
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """The audit log, newest first: every admin action, append-only (no route changes it)."""
        query = moderation.audit_events_query(
            moderation.AuditFilter(
                poll=args.get("poll"),
                action=args.get("action"),
                actor=args.get("actor"),
                since=args.get("since"),
                until=args.get("until"),
            )
        )
        set_item_count(pagination_parameters, moderation.count_rows(db.session, query))
        events: list[AuditEvent] = moderation.page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        return events


# --- tokens -------------------------------------------------------------------------------------


@blp.route("/tokens")
class Tokens(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Every token, revoked ones too (their names are never reused)."""
        return auth.list_tokens(db.session)

    @requires(Permission.ADMINISTER)
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, NewTokenSchema)
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The name is taken")
    def post(self, body: dict[str, Any]):
        """Create a token; the reply is the only time the token itself is shown."""
        begin_write_transaction()
        try:
            token, secret = auth.create_token(db.session, body["name"], TokenRole(body["role"]))
        except auth.TokenError as error:
            db.session.rollback()
            abort(409, message=str(error), errors={"name": [str(error)]})
        moderation.record_token_created(db.session, token, actor_name())
        db.session.commit()
        return {
            "name": token.name,
            "role": token.role,
            "token_prefix": token.token_prefix,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
            "token": secret,
        }


@blp.route("/tokens/<name>")
class TokenResource(MethodView):
    @requires(Permission.ADMINISTER)
    @blp.response(200, TokenSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such token")
    def delete(self, name: str):
        """Revoke a token: it stops working at once (it stays listed, revoked)."""
        begin_write_transaction()
        token = auth.find_token_by_name(db.session, name) if auth.is_token_name(name) else None
        if token is None:
            abort(404, message=f"No token named {name!r}.")
        if token.revoked_at is None:
            auth.revoke_token(db.session, name)
            moderation.record_token_revoked(db.session, token, actor_name())
        db.session.commit()
        return token
