"""Polls: listed, read, moved through their lifecycle, edited, versioned, deleted; their results."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from pollserver.api.admin.blueprint import MAX_PAGE_SIZE, PAGE_SIZE, actor_name, blp, requires
from pollserver.api.admin.documents import (
    poll_detail,
    poll_summaries,
    set_item_count,
)
from pollserver.api.admin.schemas import (
    DefinitionEditSchema,
    DefinitionSchema,
    PollDetailSchema,
    PollListArgsSchema,
    PollSummarySchema,
    SettingsChangeSchema,
    StatusChangeSchema,
)
from pollserver.api.schemas import ResultsSchema
from pollserver.core.lifecycle import PollStatus
from pollserver.core.roles import Permission
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import db
from pollserver.loaders import load_poll
from pollserver.results_cache import compute_results, forget_results
from pollserver.services.listing import count_rows, page_of
from pollserver.services.moderation.edits import create_new_version, edit_definition
from pollserver.services.moderation.polls import (
    delete_archived_poll,
    polls_query,
    transition_poll,
    update_settings,
)


@blp.route("/polls")
class Polls(MethodView):
    @requires(Permission.READ)
    @blp.arguments(PollListArgsSchema, location="query")
    @blp.response(200, PollSummarySchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """Every poll, newest change first; filter by (effective) status, article or title."""
        now = utcnow()
        query = polls_query(
            status=PollStatus(args["status"]) if "status" in args else None,
            article_id=args.get("article"),
            search=args.get("q"),
            now=now,
        )
        set_item_count(pagination_parameters, count_rows(db.session, query))
        polls = page_of(
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
        delete_archived_poll(db.session, poll, actor_name())
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
        transition_poll(db.session, poll, PollStatus(body["status"]), actor_name())
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
        update_settings(db.session, poll, body, actor_name())
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
        change = edit_definition(db.session, poll, definition, actor_name())
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
        new_poll = create_new_version(db.session, poll, definition, actor_name())
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
