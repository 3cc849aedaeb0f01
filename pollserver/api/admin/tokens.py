"""Moderation tokens: listed, created (shown once) and revoked."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from pollserver.api.admin.blueprint import actor_name, blp, requires
from pollserver.api.admin.schemas import (
    NewTokenSchema,
    TokenRequestSchema,
    TokenSchema,
)
from pollserver.core.roles import Permission, TokenRole
from pollserver.database import begin_write_transaction
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import db
from pollserver.services.tokens import (
    find_token_by_name,
    is_token_name,
    issue_token,
    list_tokens,
    withdraw_token,
)


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.doc(operationId="listTokens")
    @requires(Permission.ADMINISTER)
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Every token, revoked ones too (their names are never reused)."""
        return list_tokens(db.session)

    @blp.doc(operationId="createToken")
    @requires(Permission.ADMINISTER)
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, NewTokenSchema)
    @blp.alt_response(409, schema=ErrorResponseSchema, description="The name is taken")
    def post(self, body: dict[str, Any]):
        """Create a token; the reply is the only time the token itself is shown."""
        begin_write_transaction()
        token, secret = issue_token(db.session, body["name"], TokenRole(body["role"]), actor_name())
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
    @blp.doc(operationId="revokeToken")
    @requires(Permission.ADMINISTER)
    @blp.response(200, TokenSchema)
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such token")
    def delete(self, name: str):
        """Revoke a token: it stops working at once (it stays listed, revoked)."""
        begin_write_transaction()
        token = find_token_by_name(db.session, name) if is_token_name(name) else None
        if token is None:
            abort(404, message=f"No token named {name!r}.")
        withdraw_token(db.session, token, actor_name())
        db.session.commit()
        return token
