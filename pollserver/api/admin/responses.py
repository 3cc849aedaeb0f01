"""Response moderation: activity per hour, address groups, respondents, hiding and restoring,
and the streamed exports."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from pollserver.api.admin.blueprint import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    actor_name,
    blp,
    requires,
    with_version,
)
from pollserver.api.admin.documents import (
    respondent_document,
    set_item_count,
)
from pollserver.api.admin.schemas import (
    ActivitySchema,
    AddressGroupsSchema,
    GroupArgsSchema,
    ModerationOutcomeSchema,
    PollWindowArgsSchema,
    RespondentArgsSchema,
    RespondentSchema,
    ResponseSelectionSchema,
)
from pollserver.core.roles import Permission
from pollserver.database import begin_write_transaction
from pollserver.downloads import export_response
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import db
from pollserver.loaders import load_poll
from pollserver.results_cache import forget_results, tree_of
from pollserver.services.listing import count_rows, page_of
from pollserver.services.moderation.activity import answers_per_hour, respondents_by_address
from pollserver.services.moderation.responses import (
    ResponseSelection,
    moderate_responses,
    respondents_query,
    response_records,
)


@blp.route("/polls/<poll_id>/activity")
class PollActivity(MethodView):
    @blp.doc(operationId="getActivity")
    @requires(Permission.READ)
    @blp.arguments(PollWindowArgsSchema, location="query")
    @blp.response(200, ActivitySchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str):
        """Answers per hour (UTC), with hidden ones and new respondents: where spikes show."""
        poll = load_poll(poll_id, args.get("version"))
        hours = answers_per_hour(db.session, poll, since=args.get("since"), until=args.get("until"))
        return {"poll": poll.public_id, "hours": hours}


@blp.route("/polls/<poll_id>/activity/groups")
class PollAddressGroups(MethodView):
    @blp.doc(operationId="getAddressGroups")
    @requires(Permission.READ)
    @blp.arguments(GroupArgsSchema, location="query")
    @blp.response(200, AddressGroupsSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str):
        """The respondents who started in a window, grouped by daily address hash (biggest first).

        The hash is an HMAC under a salt deleted after two days: it groups, it never identifies.
        """
        poll = load_poll(poll_id, args.get("version"))
        groups = respondents_by_address(
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
    @blp.doc(operationId="listRespondents")
    @requires(Permission.READ)
    @blp.arguments(RespondentArgsSchema, location="query")
    @blp.response(200, RespondentSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll")
    def get(self, args: dict[str, Any], poll_id: str, pagination_parameters):
        """Respondents with their paths, by start time; filter by window, address hash, hidden."""
        poll = load_poll(poll_id, args.get("version"))
        selection = ResponseSelection(
            address_hash=args.get("address_hash"),
            started_from=args.get("since"),
            started_until=args.get("until"),
        )
        query = respondents_query(poll, selection, args.get("hidden"))
        set_item_count(pagination_parameters, count_rows(db.session, query))
        ids = page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        records = response_records(db.session, poll, tree_of(poll), respondent_ids=ids)
        return [respondent_document(record) for record in records]


def moderate(
    poll_id: str, version: int | None, selection: ResponseSelection, *, hidden: bool
) -> dict[str, Any]:
    begin_write_transaction()
    poll = load_poll(poll_id, version)
    outcome = moderate_responses(
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
    @blp.doc(operationId="hideResponses")
    @requires(Permission.MODERATE)
    @blp.arguments(ResponseSelectionSchema)
    @with_version
    @blp.response(200, ModerationOutcomeSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def post(self, selection: ResponseSelection, poll_id: str, version: int | None = None):
        """Hide responses by respondent, by start-time window and/or by address-hash group.

        Hidden responses leave the results at once; nothing is deleted, and restoring brings
        them back exactly.
        """
        return moderate(poll_id, version, selection, hidden=True)


@blp.route("/polls/<poll_id>/responses/restore")
class RestoreResponses(MethodView):
    @blp.doc(operationId="restoreResponses")
    @requires(Permission.MODERATE)
    @blp.arguments(ResponseSelectionSchema)
    @with_version
    @blp.response(200, ModerationOutcomeSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def post(self, selection: ResponseSelection, poll_id: str, version: int | None = None):
        """Restore hidden responses (same selection as hiding); they count again at once."""
        return moderate(poll_id, version, selection, hidden=False)


@blp.route("/polls/<poll_id>/responses.csv")
class ExportCsv(MethodView):
    @blp.doc(
        operationId="exportResponsesCsv",
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    @requires(Permission.READ)
    @with_version
    @blp.response(200, content_type="text/csv", description="One row per respondent")
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def get(self, poll_id: str, version: int | None = None):
        """Every response as CSV, streamed: respondent, started, finished, path, outcome, hidden.

        `path` reads "q1:yes>q2:no", `outcome` "o1>o3". Hidden responses are included, flagged.
        """
        return export_response(poll_id, version, "csv", actor_name())


@blp.route("/polls/<poll_id>/responses.jsonl")
class ExportJsonLines(MethodView):
    @blp.doc(
        operationId="exportResponsesJsonLines",
        responses={
            200: {
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}
                }
            }
        },
    )
    @requires(Permission.READ)
    @with_version
    @blp.response(200, content_type="application/x-ndjson", description="One object per line")
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def get(self, poll_id: str, version: int | None = None):
        """Every response as JSON lines, streamed (same fields as the CSV; path as a list)."""
        return export_response(poll_id, version, "jsonl", actor_name())
