"""`pollserver tokens create|list|revoke`: shown once, stored hashed, audited, revocable."""

from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy import select

from pollserver.extensions import db
from pollserver.models import ApiToken, AuditEvent

TOKEN = re.compile(r"ps_[A-Za-z0-9_-]{43}")


def create(runner, name: str, role: str) -> str:
    result = runner.invoke(args=["tokens", "create", "--name", name, "--role", role])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_create_prints_the_token_once_and_stores_only_its_hash(app, runner, client):
    result = runner.invoke(args=["tokens", "create", "--name", "night desk", "--role", "moderator"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert TOKEN.fullmatch(secret), "stdout is the token alone, for scripts"
    assert "not shown again" in result.stderr
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert token.token_prefix == secret[:10]
        assert secret not in " ".join(str(value) for value in vars(token).values())
        event = db.session.scalar(select(AuditEvent))
        assert (event.actor, event.action, event.after["name"]) == (
            "cli",
            "token.create",
            "night desk",
        )

    me = client.get("/api/v1/admin/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.get_json() == {
        "name": "night desk",
        "role": "moderator",
        "permissions": ["moderate", "read"],
    }
    listed = runner.invoke(args=["tokens", "list"])
    assert "night desk" in listed.output and "moderator" in listed.output
    assert secret[:10] in listed.output and secret not in listed.output


def test_names_are_unique_and_roles_are_checked(runner):
    create(runner, "desk", "analyst")
    again = runner.invoke(args=["tokens", "create", "--name", "desk", "--role", "admin"])
    assert again.exit_code == 1
    assert "already exists" in again.output
    owner = runner.invoke(args=["tokens", "create", "--name", "x", "--role", "owner"])
    assert owner.exit_code == 2
    blank = runner.invoke(args=["tokens", "create", "--name", " ", "--role", "admin"])
    assert blank.exit_code == 1
    assert "Traceback" not in again.output + owner.output + blank.output


def test_revoke_stops_a_token_at_once(app, runner, client):
    secret = create(runner, "temp", "admin")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/admin/tokens", headers=headers).status_code == 200
    revoked = runner.invoke(args=["tokens", "revoke", "temp"])
    assert revoked.exit_code == 0
    assert "revoked token 'temp'" in revoked.output
    assert client.get("/api/v1/admin/tokens", headers=headers).status_code == 401
    again = runner.invoke(args=["tokens", "revoke", "temp"])
    assert again.exit_code == 0 and "already revoked" in again.output
    unknown = runner.invoke(args=["tokens", "revoke", "nobody"])
    assert unknown.exit_code == 1 and "no token named 'nobody'" in unknown.output

    rows = json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)
    assert [(row["name"], row["role"], row["revoked_at"] is not None) for row in rows] == [
        ("temp", "admin", True)
    ]
    assert rows[0]["last_used_at"] is not None
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    # (Refused tokens are audited only while limits bound them; this app has them off.)
    assert actions == ["token.create", "token.revoke"]


def test_list_without_tokens_says_how_to_make_one(runner):
    result = runner.invoke(args=["tokens", "list"])
    assert result.exit_code == 0
    assert "pollserver tokens create" in result.output
