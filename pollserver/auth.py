"""Moderation API tokens, roles and the checks every admin route goes through.

A token is ``ps_`` plus 32 random bytes (URL-safe). Only its SHA-256 is stored: a database dump
gives no one a working token. Roles nest: an analyst reads, a moderator also changes polls and
responses, an admin also manages tokens and deletes archived polls.

The first half is plain Python over a ``Session`` (the CLI uses it too); the second half is the
Flask glue: views *declare* the permission they need with :func:`requires`, and the blueprints'
``before_request`` hooks enforce it. A view that declares nothing needs the highest permission,
so a forgotten declaration fails closed.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from pollserver.database import begin_write_transaction
from pollserver.extensions import db, limiter
from pollserver.models import ApiToken, TokenRole, utcnow

TOKEN_PREFIX = "ps_"
TOKEN_RANDOM_BYTES = 32
SHOWN_PREFIX_LENGTH = 10  # "ps_" and 7 random characters: enough to tell tokens apart in a list
MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours; refuse before hashing
TOKEN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,79}$"
# last_used_at is a hint for operators, not a log: write it at most this often per token.
LAST_USED_PRECISION = dt.timedelta(seconds=60)
AUTH_FAILURE_SCOPE = "admin-auth-failures"
BEARER_REALM = 'Bearer realm="pollserver admin"'


class Permission(enum.StrEnum):
    READ = "read"  # polls, articles, results, exports, audit log
    MODERATE = "moderate"  # lifecycle, edits, articles, response moderation
    ADMINISTER = "administer"  # tokens, hard deletion of archived polls


ROLE_PERMISSIONS: dict[TokenRole, frozenset[Permission]] = {
    TokenRole.ANALYST: frozenset({Permission.READ}),
    TokenRole.MODERATOR: frozenset({Permission.READ, Permission.MODERATE}),
    TokenRole.ADMIN: frozenset(Permission),
}


def role_allows(role: TokenRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def roles_with(permission: Permission) -> list[TokenRole]:
    return [role for role in TokenRole if role_allows(role, permission)]


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class Actor:
    """Who is making an admin request: a token's name and role, detached from the session."""

    token_id: int
    name: str
    role: TokenRole

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)


# --- tokens (plain Python) ----------------------------------------------------------------------


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def hash_api_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_token_name(name: str) -> bool:
    return re.fullmatch(TOKEN_NAME_PATTERN.strip("^$"), name) is not None  # no trailing "\n"


def check_token_name(name: str) -> str:
    if not is_token_name(name):
        raise TokenError(
            "a token name is 1–80 letters, digits, spaces or . _ @ - "
            "and starts with a letter or digit"
        )
    return name


def create_token(session: Session, name: str, role: TokenRole) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret, which exists in clear only now.

    Names are never reused, not even a revoked token's: the audit log names actors by token name.
    """
    check_token_name(name)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} already exists (names are never reused)")
    secret = new_token_secret()
    token = ApiToken(
        name=name,
        role=role,
        token_hash=hash_api_token(secret),
        token_prefix=secret[:SHOWN_PREFIX_LENGTH],
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


def find_token_by_name(session: Session, name: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.name == name))


def revoke_token(session: Session, name: str, now: dt.datetime | None = None) -> ApiToken:
    """Revoke a token by name; revoking a revoked token changes nothing."""
    token = find_token_by_name(session, name)
    if token is None:
        raise TokenError(f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    return token


def find_active_token(session: Session, secret: str) -> ApiToken | None:
    """The unrevoked token whose secret this is, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_api_token(secret), ApiToken.revoked_at.is_(None)
        )
    )


def find_active_token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    )


def touch_last_used(session: Session, token_id: int, now: dt.datetime) -> bool:
    """Record that a token was used, unless that was recorded less than a minute ago."""
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_PRECISION),
        )
        .values(last_used_at=now)
    )
    return bool(result.rowcount)


def needs_last_used_update(token: ApiToken, now: dt.datetime) -> bool:
    return token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION


def actor_of(token: ApiToken) -> Actor:
    return Actor(token_id=token.id, name=token.name, role=token.role)


# --- Flask glue ---------------------------------------------------------------------------------

REQUIRED_PERMISSION_ATTRIBUTE = "required_permission"
ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def requires(permission: Permission | None) -> Callable[[ViewFunction], ViewFunction]:
    """Declare the permission a view needs (``None``: anyone, e.g. the sign-in page).

    Only declares: the blueprint's ``before_request`` hook enforces it before the view runs.
    """

    def declare(view: ViewFunction) -> ViewFunction:
        setattr(view, REQUIRED_PERMISSION_ATTRIBUTE, permission)
        return view

    return declare


def view_handler(endpoint: str, method: str) -> Callable[..., Any] | None:
    """The function that will answer ``method`` at ``endpoint`` (a MethodView's method too)."""
    view = current_app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return view
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method.upper() in ("HEAD", "OPTIONS"):
        handler = getattr(view_class, "get", None)
    return handler


def required_permission(endpoint: str, method: str) -> Permission | None:
    """What a request needs; a view that declares nothing needs the highest permission."""
    handler = view_handler(endpoint, method)
    return getattr(handler, REQUIRED_PERMISSION_ATTRIBUTE, Permission.ADMINISTER)


def bearer_token() -> str | None:
    authorization = request.authorization
    if authorization is None or authorization.type != "bearer":
        return None
    return authorization.token or None


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:  # a view reached without its blueprint's hook: a programming error
        raise RuntimeError("no authenticated actor for this request")
    return actor


def refuse_unauthenticated(message: str, *, rejected: bool) -> NoReturn:
    # Only credentials that were presented and refused count towards the failure limit.
    g.credentials_rejected = rejected
    abort(401, message=message, headers={"WWW-Authenticate": BEARER_REALM})


def refuse_forbidden(actor: Actor, permission: Permission) -> NoReturn:
    allowed = " or ".join(str(role) for role in roles_with(permission))
    abort(
        403,
        message=f"Token {actor.name!r} has the {actor.role} role; this needs {allowed}.",
        errors={"role": str(actor.role), "needs": [str(role) for role in roles_with(permission)]},
    )


def note_token_use(session: Session, token: ApiToken) -> Actor:
    """The token as an actor, with its last use recorded (at most once a minute)."""
    actor = actor_of(token)
    now = utcnow()
    if needs_last_used_update(token, now):
        # Its own short write: the view then starts the transaction it needs.
        begin_write_transaction()
        touch_last_used(session, actor.token_id, now)
        session.commit()
    return actor


def authenticate_secret(session: Session, secret: str) -> Actor | None:
    """The actor behind a presented token; None for a bad or revoked one."""
    token = find_active_token(session, secret)
    return note_token_use(session, token) if token is not None else None


def authenticate_token_id(session: Session, token_id: int) -> Actor | None:
    """The actor behind a signed-in page session; None once its token is revoked."""
    token = find_active_token_by_id(session, token_id)
    return note_token_use(session, token) if token is not None else None


def authorize(actor: Actor | None, permission: Permission) -> Actor:
    if actor is None:
        refuse_unauthenticated("This needs a moderation token.", rejected=False)
    if not actor.can(permission):
        refuse_forbidden(actor, permission)
    g.actor = actor
    return actor


def authorize_bearer_request() -> None:
    """``before_request`` hook of the admin API: a valid Bearer token with the view's permission."""
    permission = required_permission(request.endpoint or "", request.method)
    if permission is None:
        return
    secret = bearer_token()
    if secret is None:
        refuse_unauthenticated(
            "This needs a moderation token: send 'Authorization: Bearer <token>'.", rejected=False
        )
    actor = authenticate_secret(db.session, secret)
    if actor is None:
        refuse_unauthenticated("This token is not valid (unknown or revoked).", rejected=True)
    authorize(actor, permission)


def is_rejected_credential(response: Response) -> bool:
    return response.status_code == 401 and bool(g.get("credentials_rejected"))


def auth_failure_limit() -> str:
    return current_app.config["RATELIMIT_AUTH_FAILURES"]


# One counter per client address shared by every admin blueprint: only refused credentials count,
# and once over the limit the address is refused (429) whatever it sends, so guessing stops.
limit_failed_authentication = limiter.shared_limit(
    auth_failure_limit,
    scope=AUTH_FAILURE_SCOPE,
    deduct_when=is_rejected_credential,
    error_message="Too many refused tokens from your address; wait a minute and try again.",
)


def without_cross_origin_headers(response: Response) -> Response:
    """``after_request`` hook: admin responses never carry CORS headers, nor get cached."""
    # Headers iterates (name, value) pairs, hence .items().
    cross_origin = {
        name for name, _ in response.headers.items() if name.lower().startswith("access-control-")
    }
    for name in cross_origin:
        del response.headers[name]
    response.headers.setdefault("Cache-Control", "no-store")
    return response
