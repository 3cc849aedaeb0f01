"""The server-rendered moderation page at /admin: sign in with a token, then work in a session.

No JavaScript: plain forms and links, usable with a keyboard. The session cookie is HttpOnly,
SameSite=Strict and Secure whenever the request came over HTTPS. Every form that changes
something carries a per-session CSRF token (hand-written below rather than Flask-WTF's
``CSRFProtect``, which would guard every POST in the app, the widget's public API included,
unless each JSON blueprint were exempted). Permissions are the API's: views declare them with
``auth.requires`` and this blueprint's ``before_request`` hook enforces them.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from dataclasses import dataclass
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
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from pollserver import auth
from pollserver.core.identifiers import ADDRESS_HASH, AUDIT_ACTION, PUBLIC_ID, TOKEN_NAME, anchored
from pollserver.core.lifecycle import (
    PUBLIC_STATUSES,
    TRANSITIONS,
    InvalidTransition,
    PollStatus,
    effective_status,
)
from pollserver.core.poll_settings import results_refusal, settings_of
from pollserver.core.roles import Actor, Permission
from pollserver.core.timestamps import utcnow
from pollserver.database import begin_write_transaction
from pollserver.errors import error_payload
from pollserver.extensions import db
from pollserver.loaders import load_poll, record_due_schedules
from pollserver.models import Poll
from pollserver.results_cache import compute_results, forget_results, tree_of
from pollserver.services.listing import page_of
from pollserver.services.moderation.activity import (
    HourActivity,
    answers_per_hour,
    respondents_by_address,
)
from pollserver.services.moderation.audit import Action, AuditFilter, audit_events_query
from pollserver.services.moderation.polls import poll_counts, polls_query, transition_poll
from pollserver.services.moderation.responses import ResponseSelection
from pollserver.services.moderation.responses import (
    moderate_responses as hide_or_restore_responses,
)
from pollserver.services.polls import definition_of

SESSION_LIFETIME = dt.timedelta(hours=12)
CSRF_FIELD = "csrf_token"
MAX_LISTED_POLLS = 500
AUDIT_PAGE_SIZE = 100
CHART_MAX_HOURS = 168  # a week of bars at most
CHART_MIN_HOURS = 24  # so one busy hour shows as a spike, not as a wall
CHART_WIDTH, CHART_HEIGHT = 600, 140
# No scripts at all; frames only from this origin (the widget preview); never framed itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATUS_ORDER = (
    PollStatus.OPEN,
    PollStatus.PAUSED,
    PollStatus.DRAFT,
    PollStatus.CLOSED,
    PollStatus.ARCHIVED,
)
TRANSITION_LABELS = {
    PollStatus.OPEN: "Open",
    PollStatus.PAUSED: "Pause",
    PollStatus.CLOSED: "Close",
    PollStatus.ARCHIVED: "Archive",
}

bp = Blueprint("admin_pages", __name__, url_prefix="/admin", template_folder="templates")


class RequestAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie Secure whenever the request itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


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
    token_id = session.get("token_id")
    signed_in_at = session.get("signed_in_at")
    if not token_id or not signed_in_at:
        return None
    if dt.datetime.fromisoformat(signed_in_at) + SESSION_LIFETIME < utcnow():
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
        record_due_schedules()
    if request.method == "POST":
        check_csrf()


@bp.after_request
def protect_page(response: Response) -> Response:
    response = auth.without_cross_origin_headers(response)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


auth.limit_failed_authentication(bp)


@bp.context_processor
def page_context() -> dict[str, Any]:
    actor = g.get("actor")
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "actor": actor,
        "can_moderate": bool(actor and actor.can(Permission.MODERATE)),
    }


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
        g.credentials_rejected = bool(secret)
        message = "That token is not valid (unknown or revoked)." if secret else "Enter a token."
        page = render_template("admin/sign_in.html", error=message, next=request.form.get("next"))
        return page, 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session["token_id"] = actor.token_id
    session["signed_in_at"] = utcnow().isoformat()
    csrf_token()
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/sign-out")
@auth.requires(None)
def sign_out():
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


# --- polls --------------------------------------------------------------------------------------


@bp.get("/polls")
@auth.requires(Permission.READ)
def polls():
    now = utcnow()
    listed = page_of(db.session, polls_query(now=now), offset=0, limit=MAX_LISTED_POLLS)
    counts = poll_counts(db.session, [poll.id for poll in listed])
    by_status: dict[PollStatus, list[Poll]] = {status: [] for status in STATUS_ORDER}
    for poll in listed:
        by_status[effective_status(poll, now)].append(poll)
    return render_template(
        "admin/polls.html",
        by_status=by_status,
        counts=counts,
        truncated=len(listed) == MAX_LISTED_POLLS,
    )


def parse_hour(text: str | None) -> dt.datetime | None:
    """The UTC hour a "2025-01-31T14:00:00Z" names; None for anything else."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        hour = moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        hour + dt.timedelta(hours=1)  # the window needs an end: not the last hour of year 9999
    except (ValueError, OverflowError):
        return None
    return hour


@dataclass(frozen=True)
class ChartBar:
    hour: str
    x: float
    width: float
    visible_height: float
    hidden_height: float
    answers: int
    hidden: int


def hourly_chart(hours: list[HourActivity], now: dt.datetime) -> list[ChartBar]:
    """One bar per hour, gaps filled with zero, up to now: a day at least, a week at most."""
    if not hours:
        return []
    by_hour = {entry.hour: entry for entry in hours}
    last = max(parse_hour(hours[-1].hour), now.replace(minute=0, second=0, microsecond=0))
    first = parse_hour(hours[0].hour)
    first = max(first, last - dt.timedelta(hours=CHART_MAX_HOURS - 1))
    first = min(first, last - dt.timedelta(hours=CHART_MIN_HOURS - 1))
    count = int((last - first) / dt.timedelta(hours=1)) + 1
    slots = [first + dt.timedelta(hours=offset) for offset in range(count)]
    tallest = max(entry.answers for entry in hours) or 1
    width = CHART_WIDTH / len(slots)
    bars = []
    for index, moment in enumerate(slots):
        label = moment.strftime("%Y-%m-%dT%H:00:00Z")
        entry = by_hour.get(label)
        answers = entry.answers if entry else 0
        hidden = entry.hidden_answers if entry else 0
        bars.append(
            ChartBar(
                hour=label,
                x=index * width,
                width=max(width - 1, 1),
                visible_height=(answers - hidden) / tallest * CHART_HEIGHT,
                hidden_height=hidden / tallest * CHART_HEIGHT,
                answers=answers,
                hidden=hidden,
            )
        )
    return bars


def results_picture_url(poll: Poll) -> str | None:
    """The public results picture, when that route exists and would show this poll's results."""
    path = f"/api/v1/polls/{poll.public_id}/results.svg"
    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except (NotFound, MethodNotAllowed):
        return None
    status = effective_status(poll)
    anyone_sees_them = results_refusal(poll.settings, status, reader_finished=False) is None
    return path if anyone_sees_them and status in PUBLIC_STATUSES else None


@bp.get("/polls/<poll_id>")
@auth.requires(Permission.READ)
def poll_page(poll_id: str):
    poll = load_poll(poll_id)
    now = utcnow()
    status = effective_status(poll, now)
    hours = answers_per_hour(db.session, poll)
    hour = parse_hour(request.args.get("hour"))
    groups = None
    if hour is not None:
        groups = respondents_by_address(
            db.session, poll, started_from=hour, started_until=hour + dt.timedelta(hours=1)
        )
    events = page_of(
        db.session,
        audit_events_query(AuditFilter(poll=poll.public_id)),
        offset=0,
        limit=10,
    )
    return render_template(
        "admin/poll.html",
        poll=poll,
        settings=settings_of(poll.settings),
        status=status,
        definition=definition_of(poll),
        tree=tree_of(poll),
        counts=poll_counts(db.session, [poll.id])[poll.id],
        results=compute_results(poll),
        transitions=[
            (target, TRANSITION_LABELS[target])
            for target in STATUS_ORDER
            if target in TRANSITIONS[status]
        ],
        previewable=status in PUBLIC_STATUSES,
        picture_url=results_picture_url(poll),
        hours=hours,
        bars=hourly_chart(hours, now),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        hour=hour,
        hour_end=hour + dt.timedelta(hours=1) if hour else None,
        groups=groups,
        events=events,
    )


@bp.post("/polls/<poll_id>/status")
@auth.requires(Permission.MODERATE)
def change_poll_status(poll_id: str):
    target = request.form.get("status", "")
    if target not in {str(status) for status in PollStatus}:
        abort(400, description="Choose one of the buttons on the poll's page.")
    begin_write_transaction()
    poll = load_poll(poll_id)
    try:
        transition_poll(db.session, poll, PollStatus(target), auth.current_actor().name)
    except InvalidTransition as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(f"The poll is now {poll.status}.")
    return redirect(url_for("admin_pages.poll_page", poll_id=poll_id), code=303)


@bp.post("/polls/<poll_id>/responses")
@auth.requires(Permission.MODERATE)
def moderate_responses(poll_id: str):
    action = request.form.get("action")
    hour = parse_hour(request.form.get("hour"))
    address_hash = request.form.get("address_hash") or None
    if action not in ("hide", "restore") or hour is None:
        abort(400, description="Pick an hour on the poll's page, then Hide or Restore.")
    if address_hash is not None and not re.match(anchored(ADDRESS_HASH), address_hash):
        abort(400, description="That address group is not one the page showed.")
    hidden = action == "hide"
    selection = ResponseSelection(
        address_hash=address_hash,
        started_from=hour,
        started_until=hour + dt.timedelta(hours=1),
    )
    begin_write_transaction()
    poll = load_poll(poll_id)
    outcome = hide_or_restore_responses(
        db.session, poll, tree_of(poll), selection, hidden=hidden, actor=auth.current_actor().name
    )
    db.session.commit()
    forget_results(poll)
    verb = "Hid" if hidden else "Restored"
    flash(f"{verb} {outcome.changed} of {outcome.matched} respondents; the results show it now.")
    target = url_for(
        "admin_pages.poll_page", poll_id=poll_id, hour=hour.strftime("%Y-%m-%dT%H:00:00Z")
    )
    return redirect(f"{target}#spike", code=303)


# --- audit log ----------------------------------------------------------------------------------


def filter_value(name: str, pattern: str) -> str | None:
    """A filter from the query string, or None when absent or not a possible value."""
    value = request.args.get(name, "")
    return value if re.match(pattern, value) else None


@bp.get("/audit")
@auth.requires(Permission.READ)
def audit_log():
    criteria = AuditFilter(
        poll=filter_value("poll", anchored(PUBLIC_ID)),
        action=filter_value("action", anchored(AUDIT_ACTION)),
        actor=filter_value("actor", anchored(TOKEN_NAME)),
    )
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = audit_events_query(criteria)
    events = page_of(
        db.session, query, offset=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE + 1
    )
    return render_template(
        "admin/audit.html",
        criteria=criteria,
        events=events[:AUDIT_PAGE_SIZE],
        page=page,
        has_older=len(events) > AUDIT_PAGE_SIZE,
        actions=[str(action) for action in Action],
    )


def init_app(app: Flask) -> None:
    app.session_interface = RequestAwareSessionInterface()
    # The session exists only for the moderation page: browsers need not send it anywhere else.
    if app.config.get("SESSION_COOKIE_PATH") is None:
        app.config["SESSION_COOKIE_PATH"] = bp.url_prefix
    app.register_blueprint(bp)
