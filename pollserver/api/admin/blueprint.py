"""The admin API's blueprint, its hooks, and how a view declares the permission it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pollserver import auth
from pollserver.api.admin.schemas import VersionArgsSchema
from pollserver.api.openapi_document import RETRY_AFTER, ApiBlueprint, header
from pollserver.core.roles import Permission, roles_with
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import api
from pollserver.loaders import record_due_schedules

ADMIN_TOKEN_SCHEME = "AdminToken"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

blp = ApiBlueprint(
    "admin",
    __name__,
    # auth.without_cross_origin_headers: no admin reply is kept by any cache.
    every_response_headers={"Cache-Control": header("CacheControl", required=True)},
    url_prefix="/api/v1/admin",
    description=(
        "Moderation: polls, articles, results, response moderation, exports, audit log, tokens. "
        "Send `Authorization: Bearer <token>`; analysts read, moderators also change polls and "
        "responses, admins also manage tokens and delete archived polls. Never CORS-open."
    ),
)
blp.before_request(auth.authorize_bearer_request)
blp.before_request(record_due_schedules)
blp.after_request(auth.without_cross_origin_headers)


@blp.record_once
def document_token_scheme(state) -> None:
    # Runs inside Api.register_blueprint, when this app's spec exists.
    api.spec.components.security_scheme(
        ADMIN_TOKEN_SCHEME,
        {"type": "http", "scheme": "bearer", "description": "`pollserver tokens create`"},
    )


def requires(permission: Permission) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare and document the permission a view needs (enforced by the blueprint's hook)."""
    roles = " or ".join(str(role) for role in roles_with(permission))

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(
            401, schema=ErrorResponseSchema, description="Missing, unknown or revoked token"
        )(view)
        view = blp.alt_response(
            403, schema=ErrorResponseSchema, description=f"The token's role is not {roles}"
        )(view)
        view = blp.alt_response(
            429,
            schema=ErrorResponseSchema,
            description="Too many refused tokens from here",
            headers=RETRY_AFTER,
        )(view)
        view = blp.doc(security=[{ADMIN_TOKEN_SCHEME: []}])(view)
        return auth.requires(permission)(view)

    return decorate


def actor_name() -> str:
    return auth.current_actor().name


# Which version of a poll a route acts on: `?version=N`, else the newest (a draft, maybe).
with_version = blp.arguments(VersionArgsSchema, location="query", as_kwargs=True)
