"""The desk's tokens page (admins only): create a token (shown once, on the page that made it),
list every token, revoke one. The same rules and audit records as the API and the CLI."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from pollserver import auth
from pollserver.core.refusals import Refused
from pollserver.core.roles import Permission, TokenRole
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.pages.moderation.blueprint import bp
from pollserver.services.tokens import (
    find_token_by_name,
    is_token_name,
    issue_token,
    list_tokens,
    withdraw_token,
)


def tokens_page(new_secret: str | None = None, error: str | None = None, status: int = 200):
    page = render_template(
        "admin/tokens.html",
        tokens=list_tokens(db.session),
        roles=[str(role) for role in TokenRole],
        new_secret=new_secret,
        error=error,
        typed={"name": request.form.get("name", ""), "role": request.form.get("role", "")},
    )
    # The one page that shows a token in clear: never kept by a cache or the back button.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
@auth.requires(Permission.ADMINISTER)
def tokens():
    return tokens_page()


@bp.post("/tokens")
@auth.requires(Permission.ADMINISTER)
def create_token_page():
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    if role not in {str(role) for role in TokenRole}:
        return tokens_page(error="Choose a role for the token.", status=422)
    begin_write_transaction()
    try:
        token, secret = issue_token(db.session, name, TokenRole(role), auth.current_actor().name)
    except Refused as refusal:
        db.session.rollback()
        return tokens_page(error=refusal.message, status=refusal.status)
    db.session.commit()
    flash(f"Token “{token.name}” ({token.role}) is made. Copy it now: it is not shown again.")
    return tokens_page(new_secret=secret, status=201)


@bp.post("/tokens/<name>/revoke")
@auth.requires(Permission.ADMINISTER)
def revoke_token_page(name: str):
    begin_write_transaction()
    token = find_token_by_name(db.session, name) if is_token_name(name) else None
    if token is None:
        db.session.rollback()
        flash(f"No token named “{name}”.", "error")
    else:
        withdraw_token(db.session, token, auth.current_actor().name)
        db.session.commit()
        flash(f"Token “{token.name}” is revoked: it stopped working now.")
    return redirect(url_for("admin_pages.tokens"), code=303)
