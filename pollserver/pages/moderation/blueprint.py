"""The moderation desk's blueprint: sign-in with a token, the session cookie, CSRF, roles on
every page, error pages, and what every page template is given.

The pages work without JavaScript: plain forms and links, usable with a keyboard. One small
script of the desk's own (``desk.js``, same origin) adds copy buttons and the live preview. The
session cookie is HttpOnly, SameSite=Lax and Secure whenever the request came over HTTPS; it
holds the secret of a session kept on the server (``services.desk_sessions``), so sign-out ends it.
Every form that changes something carries a per-session CSRF token (hand-written here rather
than Flask-WTF's ``CSRFProtect``, which would guard every POST in the app, the widget's public
API included, unless each JSON blueprint were exempted). Permissions are the API's: views
declare them with ``auth.requires`` and this blueprint's ``before_request`` hook enforces them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from pollserver import auth
from pollserver.core.roles import Actor, Permission
from pollserver.core.timestamps import time_zone, utcnow
from pollserver.database import begin_write_transaction
from pollserver.errors import error_payload
from pollserver.extensions import db
from pollserver.loaders import record_due_schedules
from pollserver.services import desk_sessions

SESSION_LIFETIME = dt.timedelta(hours=12)
DESK_SESSION_KEY = "desk_session"  # in the signed cookie: the server-side session's secret
CSRF_FIELD = "csrf_token"
# Scripts, styles and data only from this origin (the desk's script, the widget in the preview
# and the preview's poll document); frames only from here (the embed preview); never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

bp = Blueprint("admin_pages", __name__, url_prefix="/admin", template_folder=str(TEMPLATES))


class RequestAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request):  # type: ignore[override]
        # Readers' requests carry no session cookie: give them an empty session without
        # building a signer, which Flask would otherwise do for every request (2% of an
        # answer's CPU on PostgreSQL + Redis, py-spy).
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


# --- sessions, CSRF and permissions -------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="This form has expired. Go back, reload the page and try again.")


def signed_in_actor() -> Actor | None:
    secret = session.get(DESK_SESSION_KEY)
    if not secret:
        return None
    token_id = desk_sessions.session_token_id(db.session, secret, utcnow(), SESSION_LIFETIME)
    if token_id is None:  # signed out (here or with a copy of this cookie), or expired
        session.clear()
        return None
    actor = auth.authenticate_token_id(db.session, token_id)
    if actor is None:  # the token was revoked: so are its sessions
        session.clear()
    return actor


@bp.before_request
def authorize_page_request() -> None:
    permission = auth.required_permission(request.endpoint or "", request.method)
    if permission is not None:
        auth.authorize(signed_in_actor(), permission)
    if request.method == "POST":
        check_csrf()
    if permission is not None:
        record_due_schedules()  # what the page shows includes what schedules did


@bp.after_request
def protect_page(response: Response) -> Response:
    response = auth.without_cross_origin_headers(response)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.context_processor
def page_context() -> dict[str, Any]:
    actor = g.get("actor")
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "actor": actor,
        "can_moderate": bool(actor and actor.can(Permission.MODERATE)),
        "can_administer": bool(actor and actor.can(Permission.ADMINISTER)),
        "zone_name": current_app.config["POLLSERVER_TIMEZONE"],
    }


def newsroom_zone() -> dt.tzinfo:
    """The newsroom's time zone (``POLLSERVER_TIMEZONE``): the desk shows and takes times in it."""
    return time_zone(current_app.config["POLLSERVER_TIMEZONE"])


@bp.app_template_filter("local")
def local_time(moment: dt.datetime | str | None, style: str = "full") -> str:
    """A moment (or an ISO 8601 text of one) as the newsroom reads it: "30 Nov 2026, 14:05 CET"
    (``style`` "hour": "14:05", "day-hour": "30 Nov, 14:05")."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(newsroom_zone())
    if style == "hour":
        return local.strftime("%H:%M")
    if style == "day-hour":
        return local.strftime("%d %b, %H:%M")
    return local.strftime("%d %b %Y, %H:%M ") + (local.tzname() or "")


@bp.app_template_filter("local_input")
def local_input(moment: dt.datetime | None) -> str:
    """A moment as a ``datetime-local`` input shows it, in the newsroom's zone."""
    if moment is None:
        return ""
    return moment.astimezone(newsroom_zone()).strftime("%Y-%m-%dT%H:%M")


def wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


@bp.errorhandler(HTTPException)
def render_error(error: HTTPException):
    """Browsers get a small HTML page (a sign-in form for 401); other clients the JSON shape."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message") or error.description or error.name
    headers = {
        name: value
        for name, value in error.get_response().headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    if not wants_html():
        return error_payload(code, message, data.get("errors")), code, headers
    if code == 401:
        # Come back here after signing in; a form sent without a session cannot be replayed.
        back = request.full_path if request.method == "GET" else ""
        page = render_template("admin/sign_in.html", message="Sign in to see this page.", next=back)
    else:
        page = render_template("admin/error.html", code=code, title=error.name, message=message)
    return page, code, headers


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only somewhere on the moderation page itself."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target.rstrip("?")
    return url_for("admin_pages.polls")


def back_to_poll(poll_id: str, version: int | None = None, anchor: str = "") -> Response:
    """After a form: back to the poll's page (the same version), with the browser's GET."""
    target = url_for("admin_pages.poll_page", poll_id=poll_id, version=version)
    return redirect(target + (f"#{anchor}" if anchor else ""), code=303)


# --- sign in and out ----------------------------------------------------------------------------


@bp.get("/")
@auth.requires(None)
def index():
    if signed_in_actor() is not None:
        return redirect(url_for("admin_pages.polls"))
    return render_template("admin/sign_in.html", next=request.args.get("next", ""))


@bp.post("/sign-in")
@auth.requires(None)
def sign_in():
    secret = request.form.get("token", "").strip()
    actor = auth.authenticate_secret(db.session, secret) if secret else None
    if actor is None:
        # Refused tokens count towards the per-address limit; an empty form does not.
        retry_after = auth.refused_credential("desk") if secret else None
        if retry_after is not None:
            page = render_template(
                "admin/error.html",
                code=429,
                title="Too Many Requests",
                message=auth.REFUSED_TOKENS_MESSAGE,
            )
            return page, 429, {"Retry-After": str(retry_after)}
        message = "That token is not valid (unknown or revoked)." if secret else "Enter a token."
        page = render_template("admin/sign_in.html", error=message, next=request.form.get("next"))
        return page, 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    begin_write_transaction()
    secret = desk_sessions.start_session(db.session, actor.token_id, utcnow(), SESSION_LIFETIME)
    db.session.commit()
    session[DESK_SESSION_KEY] = secret
    csrf_token()
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/sign-out")
@auth.requires(None)
def sign_out():
    secret = session.get(DESK_SESSION_KEY)
    if secret:
        # Ended on the server: a copy of the cookie (another tab, a stolen one) is worthless.
        begin_write_transaction()
        desk_sessions.end_session(db.session, secret)
        db.session.commit()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("admin_pages.index"), code=303)


@bp.get("/admin.css")
@auth.requires(None)
def stylesheet():
    return current_app.response_class(
        render_template("admin/admin.css"),
        mimetype="text/css",
        headers={"Cache-Control": "max-age=3600"},
    )


@bp.get("/desk.js")
@auth.requires(None)
def script():
    return current_app.response_class(
        (TEMPLATES / "admin" / "desk.js").read_text(),
        mimetype="text/javascript",
        headers={"Cache-Control": "max-age=3600"},
    )
