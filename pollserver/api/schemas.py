"""marshmallow schemas for the HTTP API (request bodies and documented responses).

The poll definition itself is validated by ``pollserver.core.definition``; these describe what the
API says around it. Kept apart from the models: a schema is a contract, a model is storage.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pollserver.core.definition import NODE_ID_PATTERN
from pollserver.core.identifiers import RESPONDENT_TOKEN, anchored
from pollserver.core.poll_settings import RESULTS_VISIBILITIES

TOKEN_PATTERN = anchored(RESPONDENT_TOKEN)


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class NodeOutSchema(ma.Schema):
    id = ma.fields.String(required=True)
    type = ma.fields.String(required=True, validate=validate.OneOf(["question", "outcome"]))
    text = ma.fields.String(required=True)
    yes = ma.fields.String(allow_none=True, metadata={"description": "Questions only"})
    no = ma.fields.String(allow_none=True, metadata={"description": "Questions only"})
    next = ma.fields.String(allow_none=True, metadata={"description": "Outcomes only"})


class PublicSettingsSchema(ma.Schema):
    results_visibility = ma.fields.String(
        required=True, validate=validate.OneOf(RESULTS_VISIBILITIES)
    )
    allow_answer_changes = ma.fields.Boolean(required=True)
    language = ma.fields.String(required=True)


class PublicPollSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "The poll's public id"})
    version = ma.fields.Integer(
        required=True,
        metadata={"description": "The live version: every version keeps the poll's public id"},
    )
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["open", "paused", "closed"]))
    root = ma.fields.String(required=True)
    nodes = ma.fields.List(ma.fields.Nested(NodeOutSchema), required=True)
    settings = ma.fields.Nested(PublicSettingsSchema, required=True)


class AnswerRequestSchema(StrictSchema):
    respondent = ma.fields.String(
        required=True,
        allow_none=True,
        validate=validate.Regexp(TOKEN_PATTERN, error="not a respondent token"),
        metadata={"description": "The token from an earlier reply, or null for a new reader"},
    )
    node = ma.fields.String(
        required=True,
        validate=validate.Regexp(NODE_ID_PATTERN, error="not a node id"),
        metadata={"description": "The question being answered: the reader's current node"},
    )
    answer = ma.fields.String(required=True, validate=validate.OneOf(["yes", "no"]))
    version = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "The version the reader was shown. A new reader's answer to a "
            "version that a newer one has replaced is refused (409): load the poll again."
        },
    )


class PathStepSchema(ma.Schema):
    node = ma.fields.String(required=True)
    answer = ma.fields.String(required=True, validate=validate.OneOf(["yes", "no"]))


class QuestionResultSchema(ma.Schema):
    reached = ma.fields.Integer(required=True)
    yes = ma.fields.Integer(required=True)
    no = ma.fields.Integer(required=True)
    not_answered = ma.fields.Integer(required=True)
    yes_share = ma.fields.Float(required=True, allow_none=True)
    yes_interval = ma.fields.List(ma.fields.Float(), required=True, allow_none=True)


class OutcomeResultSchema(ma.Schema):
    reached = ma.fields.Integer(required=True)
    share_of_finished = ma.fields.Float(required=True, allow_none=True)


class PathResultSchema(ma.Schema):
    nodes = ma.fields.List(ma.fields.String(), required=True)
    answers = ma.fields.List(ma.fields.String(), required=True)
    outcomes = ma.fields.List(ma.fields.String(), required=True)
    respondents = ma.fields.Integer(required=True)
    share_of_finished = ma.fields.Float(required=True, allow_none=True)


class EndingResultSchema(ma.Schema):
    """One place where finished readers ended."""

    outcomes = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "The outcome chain these readers reached, in order; empty for readers "
            "whose last answer leads to no outcome (the ending is then that answer)"
        },
    )
    node = ma.fields.String(
        required=True,
        metadata={
            "description": "The last question these readers answered (where branches join into "
            "one outcome chain: the one most of them came from)"
        },
    )
    answer = ma.fields.String(
        required=True,
        validate=validate.OneOf(["yes", "no"]),
        metadata={"description": "Their answer to that question"},
    )
    respondents = ma.fields.Integer(
        required=True, metadata={"description": "Finished readers who ended here"}
    )
    share_of_finished = ma.fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "respondents / finished; null unless shares are published"},
    )
    interval = ma.fields.List(
        ma.fields.Float(),
        required=True,
        allow_none=True,
        metadata={
            "description": "95% Wilson score interval of that share, [low, high]; null unless "
            "shares are published"
        },
    )


class HourlyCountSchema(ma.Schema):
    hour = ma.fields.String(required=True, metadata={"description": "Start of the hour, UTC"})
    answers = ma.fields.Integer(required=True)


class ResultsSchema(ma.Schema):
    poll = ma.fields.String(required=True)
    version = ma.fields.Integer(
        required=True, metadata={"description": "The version of the poll these results count"}
    )
    as_of = ma.fields.String(required=True, metadata={"description": "Time of the data, UTC"})
    respondents = ma.fields.Integer(required=True, metadata={"description": "Readers who started"})
    finished = ma.fields.Integer(
        required=True, metadata={"description": "Readers who reached the end of a path"}
    )
    shares_published = ma.fields.Boolean(
        required=True,
        metadata={"description": "False below min_respondents: counts only, shares are null"},
    )
    min_respondents = ma.fields.Integer(required=True)
    note = ma.fields.String(required=True)
    questions = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(QuestionResultSchema), required=True
    )
    outcomes = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(OutcomeResultSchema), required=True
    )
    paths = ma.fields.List(ma.fields.Nested(PathResultSchema), required=True)
    endings = ma.fields.List(
        ma.fields.Nested(EndingResultSchema),
        required=True,
        metadata={
            "description": "Where every finished reader ended: one entry per outcome chain, and "
            "one per answer that ends a path without an outcome; most readers first. Their "
            "respondents add up to `finished`."
        },
    )
    hourly = ma.fields.List(ma.fields.Nested(HourlyCountSchema), required=True)


class ProgressSchema(ma.Schema):
    """Where a reader stands: their path so far, what comes next, and results when allowed."""

    respondent = ma.fields.String(
        required=True, metadata={"description": "The reader's token; keep it for the next answer"}
    )
    path = ma.fields.List(ma.fields.Nested(PathStepSchema), required=True)
    current = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The question to answer next; null once the path has ended"},
    )
    finished = ma.fields.Boolean(required=True)
    outcomes = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The outcome chain the path ended in, in order"},
    )
    results = ma.fields.Nested(
        ResultsSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Present at the end of a path when the poll's visibility allows"},
    )
