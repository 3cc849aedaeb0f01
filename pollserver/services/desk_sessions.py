"""Signed-in sessions of the desk, kept on the server so that signing out ends them.

The browser's cookie holds a random secret; the database holds its SHA-256 and the token it
signed in with. A session lasts ``lifetime`` from sign-in, ends at sign-out, and ends with its
token (revoked or deleted).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pollserver.core.privacy import hash_token
from pollserver.models import DeskSession


def start_session(session: Session, token_id: int, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """A new session for the token; its secret (for the cookie). Ended sessions' rows go."""
    session.execute(delete(DeskSession).where(DeskSession.started_at < now - lifetime))
    secret = secrets.token_urlsafe(32)
    session.add(DeskSession(secret_hash=hash_token(secret), token_id=token_id, started_at=now))
    return secret


def session_token_id(
    session: Session, secret: str, now: dt.datetime, lifetime: dt.timedelta
) -> int | None:
    """The token a live session signed in with; None once it has ended or expired."""
    row = session.scalar(select(DeskSession).where(DeskSession.secret_hash == hash_token(secret)))
    if row is None or row.started_at + lifetime < now:
        return None
    return row.token_id


def end_session(session: Session, secret: str) -> None:
    session.execute(delete(DeskSession).where(DeskSession.secret_hash == hash_token(secret)))
