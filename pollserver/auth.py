"""The checks every moderation request goes through: who is asking, and may they.

Views *declare* the permission they need with :func:`requires`, and the blueprints'
``before_request`` hooks enforce it (the admin API with a Bearer token, the moderation pages
with a signed-in session). A view that declares nothing needs the highest permission, so a
forgotten declaration fails closed. The token rules live in ``pollserver.services.tokens``,
the roles in ``pollserver.core.roles``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from flask import current_app, g, request
from flask_limiter import RequestLimit
from flask_smorest import abort
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from pollserver.core.roles import Actor, Permission, roles_with
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction
from pollserver.errors import RATE_LIMIT_REASON
from pollserver.extensions import db, limiter
from pollserver.metrics import count_rate_limited
from pollserver.models import ApiToken
from pollserver.rate_limits import (
    address_pseudonym,
    auth_failure_limit,
    client_address,
    hit_limits,
    rate_limit_key,
    retry_after_seconds,
)
from pollserver.services.moderation.audit import ANONYMOUS_ACTOR, Action, record_audit
from pollserver.services.tokens import (
    actor_of,
    find_active_token,
    find_active_token_by_id,
    needs_last_used_update,
    touch_last_used,
)

log = logging.getLogger(__name__)

AUTH_FAILURE_SCOPE = "admin-auth-failures"
BEARER_REALM = 'Bearer realm="pollserver admin"'

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


def refuse_unauthenticated(message: str) -> NoReturn:
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
        refuse_unauthenticated("This needs a moderation token.")
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
            "This needs a moderation token: send 'Authorization: Bearer <token>'."
        )
    actor = authenticate_secret(db.session, secret)
    if actor is None:
        retry_after = refused_credential("api")
        if retry_after is not None:
            abort(
                429,
                message=REFUSED_TOKENS_MESSAGE,
                errors={"reason": RATE_LIMIT_REASON},
                headers={"Retry-After": str(retry_after)},
            )
        refuse_unauthenticated("This token is not valid (unknown or revoked).")
    authorize(actor, permission)


REFUSED_TOKENS_MESSAGE = "Too many refused tokens from your address; wait a minute and try again."


def refused_credential(via: str) -> int | None:
    """Count a token that was presented and refused (``via``: "api" or "desk") against
    ``RATELIMIT_AUTH_FAILURES`` for this address, and audit it (by the address's daily
    pseudonym, never the address). Returns the seconds to wait when the address is over the
    limit (the refusal is then a 429, and is not audited again), else None.

    Only refused tokens count, and only they are ever refused for it: a valid token is let in
    before this is asked, so nobody behind the same address (a newsroom's NAT) is locked out by
    someone else's guesses. Tokens are 256 random bits: the limit bounds the noise, not the odds.
    """
    if not limiter.enabled:
        return None  # nothing bounds the rows a stream of refused tokens would write
    breached, counted = hit_auth_failure_limit(rate_limit_key())
    if breached is not None:
        count_rate_limited("auth_failures")
        return retry_after_seconds(breached)
    if counted:  # at most the limit's rows per address and window
        pseudonym = address_pseudonym(current_app._get_current_object(), client_address())
        begin_write_transaction()
        record_audit(
            db.session,
            ANONYMOUS_ACTOR,
            Action.AUTH_REFUSED,
            after={"via": via, "address": pseudonym},
        )
        db.session.commit()
    return None


def hit_auth_failure_limit(address: str) -> tuple[RequestLimit | None, bool]:
    """The limit the refused token breached (None: within it), and whether it was counted."""
    try:
        breached = hit_limits(
            limiter, auth_failure_limit(), address, AUTH_FAILURE_SCOPE, stop_at_first_breach=True
        )
    except Exception:  # the limit storage is down: refusing the token is enough
        log.warning("auth failure limit unavailable", exc_info=True)
        return None, False
    return (breached[0] if breached else None), True


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
