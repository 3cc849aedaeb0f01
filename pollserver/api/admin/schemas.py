"""marshmallow schemas of the admin API: request bodies, query arguments and documents."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from pollserver.api.openapi_document import COMPONENT
from pollserver.api.schemas import PathStepSchema, StrictSchema
from pollserver.core import builder
from pollserver.core.definition import (
    MAX_NODES,
    MAX_TEXT_LENGTH,
    NODE_ID_PATTERN,
    OUTCOME,
    QUESTION,
    DefinitionError,
    validate_definition,
)
from pollserver.core.identifiers import (
    ADDRESS_HASH,
    AUDIT_ACTION,
    PUBLIC_ID,
    TOKEN_NAME,
    anchored,
)
from pollserver.core.lifecycle import PollStatus
from pollserver.core.roles import TokenRole
from pollserver.core.timestamps import UtcDateTime
from pollserver.models import MAX_ARTICLE_ID
from pollserver.services.moderation.responses import ResponseSelection

MAX_SELECTED_RESPONDENTS = 10_000
MAX_RESPONDENT_ID = 2**63 - 1
# Text that goes into a query: no control characters (PostgreSQL refuses NUL in a string).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


class DefinitionNodeSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=validate.Regexp(NODE_ID_PATTERN))
    type = ma.fields.String(required=True, validate=validate.OneOf([QUESTION, OUTCOME]))
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT_LENGTH))
    yes = ma.fields.String(allow_none=True, metadata={"description": "Questions: a node or null"})
    no = ma.fields.String(allow_none=True, metadata={"description": "Questions: a node or null"})
    next = ma.fields.String(
        allow_none=True, metadata={"description": "Outcomes: an outcome or null"}
    )


class DefinitionSchema(ma.Schema):
    """The canonical poll definition, validated exactly as the builder's output is.

    The fields describe it for the OpenAPI document; loading hands the whole body to
    ``pollserver.core.definition.validate_definition``, whose messages name the nodes at fault.
    """

    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT_LENGTH))
    root = ma.fields.String(required=True, validate=validate.Regexp(NODE_ID_PATTERN))
    nodes = ma.fields.List(
        ma.fields.Nested(DefinitionNodeSchema),
        required=True,
        validate=validate.Length(1, MAX_NODES),
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
    open_at = ma.fields.DateTime(allow_none=True, required=True)
    close_at = ma.fields.DateTime(allow_none=True, required=True)


class PollVersionSchema(ma.Schema):
    version = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"description": "As readers see it"})
    live = ma.fields.Boolean(
        required=True, metadata={"description": "The version readers see under the poll's id"}
    )
    opened_at = ma.fields.DateTime(allow_none=True, required=True)
    closed_at = ma.fields.DateTime(allow_none=True, required=True)
    superseded_at = ma.fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "When a newer version replaced it (its readers may finish)"},
    )
    respondents = ma.fields.Integer(required=True)


class PollSummarySchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The poll's public id"})
    title = ma.fields.String(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "As readers see it: closed once close_at passed"}
    )
    version = ma.fields.Integer(
        required=True, metadata={"description": "This version; every version keeps the id"}
    )
    previous_version = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The version this one was made from"},
    )
    live_version = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The version readers see now (null: none is published)"},
    )
    article = ma.fields.Nested(ArticleRefSchema, allow_none=True, required=True)
    open_at = ma.fields.DateTime(allow_none=True, required=True)
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
    versions = ma.fields.List(
        ma.fields.Nested(PollVersionSchema), required=True, metadata={"description": "Oldest first"}
    )


class VersionArgsSchema(ma.Schema):
    version = ma.fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Which version of the poll (default: the newest, maybe a draft)"},
    )


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


class DefinitionEditSchema(ma.Schema):
    change = ma.fields.String(
        required=True,
        metadata={"description": "none, text (title/texts fixed in place) or structure"},
    )
    poll = ma.fields.Nested(PollDetailSchema, required=True)


class WindowArgsSchema(ma.Schema):
    since = UtcDateTime(metadata={"description": "From this time (UTC, inclusive)"})
    until = UtcDateTime(metadata={"description": "Before this time (UTC)"})

    @ma.validates_schema
    def check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ma.ValidationError("'since' must be before 'until'", "until")


class PollWindowArgsSchema(WindowArgsSchema, VersionArgsSchema):
    pass


class GroupArgsSchema(PollWindowArgsSchema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class RespondentArgsSchema(PollWindowArgsSchema):
    address_hash = ma.fields.String(validate=validate.Regexp(anchored(ADDRESS_HASH)))
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
    address_hash = ma.fields.String(validate=validate.Regexp(anchored(ADDRESS_HASH)))
    started_from = UtcDateTime(metadata={"description": "Started at or after"})
    started_until = UtcDateTime(metadata={"description": "Started before"})

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


class ArticlePollSchema(ma.Schema):
    """One poll of an article: each version is listed, in the order of the article's blocks."""

    id = ma.fields.String(required=True, metadata={"description": "The poll's public id"})
    status = ma.fields.String(
        required=True, validate=validate.OneOf([str(status) for status in PollStatus])
    )
    version = ma.fields.Integer(required=True)


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
    polls = ma.fields.List(ma.fields.Nested(ArticlePollSchema), required=True)


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
        metadata={
            "description": "Guessed from the source's suffix, then the content",
            COMPONENT: "ArticleFormat",
        },
    )
    source = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(min=1, max=500), validate.Regexp(PLAIN_TEXT_PATTERN)],
        metadata={"description": "Where the article lives (its URL); the same source updates it"},
    )


class ArticleUploadFieldsSchema(ma.Schema):
    # Optional, never null: a form has no null to send (a generated client sent "None").
    format = ma.fields.String(
        load_default=None,
        allow_none=False,
        validate=validate.OneOf(builder.FORMATS),
        metadata={
            "description": "Guessed from the file's name, then the content",
            COMPONENT: "ArticleFormat",
        },
    )
    source = ma.fields.String(
        load_default=None,
        allow_none=False,
        validate=[validate.Length(min=1, max=500), validate.Regexp(PLAIN_TEXT_PATTERN)],
        metadata={"description": "Where the article lives (its URL); the same source updates it"},
    )


class ArticleUploadSchema(ArticleUploadFieldsSchema):
    """An article sent as a file (multipart/form-data): its fields, as documented."""

    file = ma.fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "The article's file"},
    )


class ArticleSubmissionResultSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "created/updated/unchanged"})
    article = ma.fields.Nested(ArticleSummarySchema, required=True)
    polls = ma.fields.List(ma.fields.Nested(PollSummarySchema), required=True)
    warnings = ma.fields.List(ma.fields.String(), required=True)
    message = ma.fields.String(required=True, metadata={"description": "Why there is no poll"})
    changes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "What the article's new text changed, by poll id"},
    )


class AuditArgsSchema(WindowArgsSchema):
    poll = ma.fields.String(
        validate=validate.Regexp(anchored(PUBLIC_ID)), metadata={"description": "A poll's id"}
    )
    action = ma.fields.String(
        validate=validate.Regexp(anchored(AUDIT_ACTION)),
        metadata={"description": "An action, or a family ending in '.' (e.g. 'responses.')"},
    )
    actor = ma.fields.String(
        validate=validate.Regexp(anchored(TOKEN_NAME)),
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
    name = ma.fields.String(required=True, validate=validate.Regexp(anchored(TOKEN_NAME)))
    role = ma.fields.String(
        required=True, validate=validate.OneOf([str(role) for role in TokenRole])
    )


class ActorSchema(ma.Schema):
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    permissions = ma.fields.List(ma.fields.String(), required=True)
