"""Polls: listed, read, moved through their lifecycle, edited, versioned, deleted; their results."""

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
    StatusChangeSchema,
)
from pollserver.api.schemas import ResultsSchema
from pollserver.core.lifecycle import PollStatus
from pollserver.core.poll_settings import SettingsChangeSchema
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
    discard_draft,
    polls_query,
    transition_poll,
    update_settings,
)


@blp.route("/polls")
class Polls(MethodView):
    @blp.doc(operationId="listPolls")
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
    @blp.doc(operationId="getPollVersion")
    @requires(Permission.READ)
    @with_version
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def get(self, poll_id: str, version: int | None = None):
        """A poll version with its full definition, settings, counts, what it may become next
        and the list of the poll's versions."""
        return poll_detail(load_poll(poll_id, version))

    @blp.doc(operationId="deletePollVersion")
    @requires(Permission.ADMINISTER)
    @with_version
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The version is not archived")
    def delete(self, poll_id: str, version: int | None = None):
        """Delete an archived poll version with all its responses (admin only; the audit log
        keeps it)."""
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        delete_archived_poll(db.session, poll, actor_name())
        db.session.commit()


@blp.route("/polls/<poll_id>/discard")
class DiscardDraft(MethodView):
    @blp.doc(operationId="discardDraft")
    @requires(Permission.MODERATE)
    @with_version
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="Not a draft")
    def post(self, poll_id: str, version: int | None = None):
        """Throw a draft version away (the audit log keeps its definition)."""
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        discard_draft(db.session, poll, actor_name())
        db.session.commit()


@blp.route("/polls/<poll_id>/status")
class PollStatusChange(MethodView):
    @blp.doc(operationId="changePollStatus")
    @requires(Permission.MODERATE)
    @blp.arguments(StatusChangeSchema)
    @with_version
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="Not a valid transition")
    def post(self, body: dict[str, Any], poll_id: str, version: int | None = None):
        """Open, pause, close, reopen or archive a poll version (only valid transitions).

        Opening a version closes the earlier one readers saw (its readers may finish it): every
        embed of the poll's id shows the new version.
        """
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        transition_poll(db.session, poll, PollStatus(body["status"]), actor_name())
        db.session.commit()
        return poll_detail(poll)


@blp.route("/polls/<poll_id>/settings")
class PollSettings(MethodView):
    @blp.doc(operationId="changePollSettings")
    @requires(Permission.MODERATE)
    @blp.arguments(SettingsChangeSchema)
    @with_version
    @blp.response(200, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The poll is archived")
    @blp.alt_response(422, schema=ErrorResponseSchema, description="A time in the past")
    def patch(self, body: dict[str, Any], poll_id: str, version: int | None = None):
        """Change visibility, allowed origins, answer changes, language, open or close time.

        Allowed whether or not the poll has answers; each change is recorded in the audit log.
        Times must lie in the future (a time in the past is refused, not applied); only a draft
        can be scheduled to open.
        """
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        update_settings(db.session, poll, body, actor_name())
        db.session.commit()
        forget_results(poll)
        return poll_detail(poll)


@blp.route("/polls/<poll_id>/definition")
class PollDefinition(MethodView):
    @blp.doc(operationId="replaceDefinition")
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @with_version
    @blp.response(200, DefinitionEditSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(
        409,
        schema=ErrorResponseSchema,
        description="A structural change to a poll with answers, or an archived poll",
    )
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def put(self, definition: dict[str, Any], poll_id: str, version: int | None = None):
        """Replace a poll version's definition (validated like the builder's).

        Free while the version has no answers. Once it has answers only the title and node
        texts may change; a structural change is refused (409): make a new version instead.
        """
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        change = edit_definition(db.session, poll, definition, actor_name())
        db.session.commit()
        forget_results(poll)
        return {"change": str(change), "poll": poll_detail(poll)}


@blp.route("/polls/<poll_id>/versions")
class PollVersions(MethodView):
    @blp.doc(operationId="createVersion")
    @requires(Permission.MODERATE)
    @blp.arguments(DefinitionSchema)
    @with_version
    @blp.response(201, PollDetailSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    @blp.alt_response(409, schema=ErrorResponseSchema, description="A draft version is waiting")
    @blp.alt_response(422, schema=ErrorResponseSchema, description="Not a valid definition")
    def post(self, definition: dict[str, Any], poll_id: str, version: int | None = None):
        """Make a new draft version of a poll with this definition, under the same id.

        The way to change the structure of a poll that has answers: the old version and its
        answers stay as they are. The draft takes the old version's settings; once opened, it
        replaces the old version in every embed. One draft at a time.
        """
        begin_write_transaction()
        poll = load_poll(poll_id, version)
        new_poll = create_new_version(db.session, poll, definition, actor_name())
        db.session.commit()
        return poll_detail(new_poll)


@blp.route("/polls/<poll_id>/results")
class PollResultsForModerators(MethodView):
    @blp.doc(operationId="getModeratorResults")
    @requires(Permission.READ)
    @with_version
    @blp.response(200, ResultsSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such poll or version")
    def get(self, poll_id: str, version: int | None = None):
        """A version's current results whatever its visibility or status (hidden responses
        excluded)."""
        return compute_results(load_poll(poll_id, version))
