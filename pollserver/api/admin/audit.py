"""The audit log, newest first."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from pollserver.api.admin.blueprint import MAX_PAGE_SIZE, PAGE_SIZE, blp, requires
from pollserver.api.admin.documents import set_item_count
from pollserver.api.admin.schemas import (
    AuditArgsSchema,
    AuditEventSchema,
)
from pollserver.core.roles import Permission
from pollserver.extensions import db
from pollserver.models import AuditEvent
from pollserver.services.listing import count_rows, page_of
from pollserver.services.moderation.audit import AuditFilter, audit_events_query


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.doc(operationId="listAuditEvents")
    @requires(Permission.READ)
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)
    def get(self, args: dict[str, Any], pagination_parameters):
        """The audit log, newest first: every admin action, append-only (no route changes it)."""
        query = audit_events_query(
            AuditFilter(
                poll=args.get("poll"),
                action=args.get("action"),
                actor=args.get("actor"),
                since=args.get("since"),
                until=args.get("until"),
            )
        )
        set_item_count(pagination_parameters, count_rows(db.session, query))
        events: list[AuditEvent] = page_of(
            db.session,
            query,
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
        return events
