"""`pollserver tokens create|list|revoke`: moderation API tokens from the command line.

The command line is where the first token comes from (an admin token can then make others
through the API). A token is printed once, alone on stdout so a script can capture it; only its
SHA-256 is stored. Each change is recorded in the audit log with the actor "cli".
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from pollserver.core.roles import TokenRole
from pollserver.core.timestamps import iso
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.models import ApiToken
from pollserver.services.moderation.audit import CLI_ACTOR
from pollserver.services.tokens import (
    TokenError,
    find_token_by_name,
    issue_token,
    list_tokens,
    withdraw_token,
)


@click.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke moderation API tokens."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what uses the token; shown in the audit log.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([str(role) for role in TokenRole]),
    help="analyst: read; moderator: also change polls and responses; admin: also tokens.",
)
@with_appcontext
def create_command(name: str, role: str) -> None:
    """Create a token and print it (it is shown this once)."""
    begin_write_transaction()
    try:
        _token, secret = issue_token(db.session, name, TokenRole(role), CLI_ACTOR)
    except TokenError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(secret)
    click.echo(
        f"Created {role} token {name!r}. Store it now: it is not shown again "
        "(send it as 'Authorization: Bearer <token>', or sign in at /admin).",
        err=True,
    )


def token_row(token: ApiToken) -> dict[str, str | None]:
    return {
        "name": token.name,
        "role": str(token.role),
        "prefix": token.token_prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Every token (never the token itself): name, role, prefix, last use, revocation."""
    rows = [token_row(token) for token in list_tokens(db.session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no tokens yet: pollserver tokens create --name NAME --role admin")
        return
    click.echo(f"{'NAME':<24} {'ROLE':<9} {'PREFIX':<10}  {'LAST USED':<20}  STATUS")
    for row in rows:
        status = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['name']:<24} {row['role']:<9} {row['prefix']:<10}  "
            f"{row['last_used_at'] or 'never':<20}  {status}"
        )


@tokens_group.command("revoke")
@click.argument("name")
@with_appcontext
def revoke_command(name: str) -> None:
    """Revoke a token by name: it stops working at once, page sessions included."""
    begin_write_transaction()
    token = find_token_by_name(db.session, name)
    if token is None:
        raise click.ClickException(f"no token named {name!r} (pollserver tokens list shows them)")
    if not withdraw_token(db.session, token, CLI_ACTOR):
        click.echo(f"token {name!r} was already revoked at {iso(token.revoked_at)}")
        return
    db.session.commit()
    click.echo(f"revoked token {name!r}")
