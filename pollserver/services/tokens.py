"""Moderation API tokens: created, listed, revoked and recognised.

A token is ``ps_`` plus 32 random bytes (URL-safe). Only its SHA-256 is stored: a database dump
gives no one a working token. Plain Python over a ``Session`` (the CLI and the request checks in
``pollserver.auth`` both use it); the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pollserver.core.identifiers import TOKEN_NAME, matches
from pollserver.core.privacy import hash_token
from pollserver.core.refusals import Refused
from pollserver.core.roles import Actor, TokenRole
from pollserver.core.timestamps import utcnow
from pollserver.models import ApiToken
from pollserver.services.moderation.audit import Action, record_audit

TOKEN_PREFIX = "ps_"
TOKEN_RANDOM_BYTES = 32
SHOWN_PREFIX_LENGTH = 10  # "ps_" and 7 random characters: enough to tell tokens apart in a list
MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours; refuse before hashing
# last_used_at is a hint for operators, not a log: write it at most this often per token.
LAST_USED_PRECISION = dt.timedelta(seconds=60)


class TokenError(Refused):
    """A token cannot be created or revoked as asked; the message says why (and about which
    field, for the API's details)."""

    def __init__(self, status: int, message: str):
        super().__init__(status, message, {"name": [message]})


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def is_token_name(name: str) -> bool:
    return matches(TOKEN_NAME, name)  # a full match: no trailing "\n" either


def check_token_name(name: str) -> str:
    if not is_token_name(name):
        raise TokenError(
            422,
            "a token name is 1–80 letters, digits, spaces or . _ @ - "
            "and starts with a letter or digit",
        )
    return name


def create_token(session: Session, name: str, role: TokenRole) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret, which exists in clear only now.

    Names are never reused, not even a revoked token's: the audit log names actors by token name.
    """
    check_token_name(name)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(409, f"a token named {name!r} already exists (names are never reused)")
    secret = new_token_secret()
    token = ApiToken(
        name=name,
        role=role,
        token_hash=hash_token(secret),
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
        raise TokenError(404, f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    return token


def find_active_token(session: Session, secret: str) -> ApiToken | None:
    """The unrevoked token whose secret this is, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(secret), ApiToken.revoked_at.is_(None)
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


def record_token_created(
    session: Session, token: ApiToken, actor: str, now: dt.datetime | None = None
) -> None:
    record_audit(
        session,
        actor,
        Action.TOKEN_CREATE,
        after={"name": token.name, "role": token.role, "prefix": token.token_prefix},
        now=now,
    )


def record_token_revoked(
    session: Session, token: ApiToken, actor: str, now: dt.datetime | None = None
) -> None:
    record_audit(
        session,
        actor,
        Action.TOKEN_REVOKE,
        before={"name": token.name, "role": token.role, "revoked_at": None},
        after={"name": token.name, "role": token.role, "revoked_at": token.revoked_at},
        now=now,
    )


def issue_token(session: Session, name: str, role: TokenRole, actor: str) -> tuple[ApiToken, str]:
    """Create a token and record it in the audit log; the secret exists in clear only now."""
    token, secret = create_token(session, name, role)
    record_token_created(session, token, actor)
    return token, secret


def withdraw_token(session: Session, token: ApiToken, actor: str) -> bool:
    """Revoke a token and record it in the audit log; False (nothing recorded) when it was
    revoked already."""
    if token.revoked_at is not None:
        return False
    revoke_token(session, token.name)
    record_token_revoked(session, token, actor)
    return True
