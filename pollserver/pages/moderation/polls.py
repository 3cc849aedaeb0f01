"""The desk's poll pages: the list, a poll version's page (versions, lifecycle, schedule,
settings, embed snippets, results, activity, spikes), and the forms that change them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select, tuple_
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pollserver import auth
from pollserver.core.definition import leaf_messages, warnings_by_node
from pollserver.core.identifiers import ADDRESS_HASH, anchored
from pollserver.core.lifecycle import PUBLIC_STATUSES, TRANSITIONS, PollStatus, effective_status
from pollserver.core.poll_settings import (
    RESULTS_VISIBILITIES,
    SettingsChangeSchema,
    results_refusal,
    settings_of,
)
from pollserver.core.refusals import Refused
from pollserver.core.roles import Permission
from pollserver.core.timestamps import NotALocalTime, from_local, utcnow
from pollserver.database import begin_write_transaction
from pollserver.downloads import export_response
from pollserver.extensions import db
from pollserver.loaders import load_poll
from pollserver.models import Poll
from pollserver.pages.embed import embed_snippets
from pollserver.pages.moderation.audit import readable_events
from pollserver.pages.moderation.blueprint import back_to_poll, bp, local_input, newsroom_zone
from pollserver.pages.moderation.charts import (
    HEIGHT,
    LEFT,
    PLOT_HEIGHT,
    RANGE_LABELS,
    TOP,
    WIDTH,
    ChartRange,
    build_chart,
)
from pollserver.results_cache import compute_results, forget_results, tree_of
from pollserver.services.articles import articles_query
from pollserver.services.listing import page_of
from pollserver.services.moderation.activity import answers_per_hour, respondents_by_address
from pollserver.services.moderation.audit import AuditFilter, audit_events_query
from pollserver.services.moderation.polls import (
    discard_draft,
    poll_counts,
    polls_query,
    schedule_refusal,
    transition_poll,
    update_settings,
    version_summaries,
)
from pollserver.services.moderation.responses import (
    ResponseSelection,
    paths_taken,
)
from pollserver.services.moderation.responses import (
    moderate_responses as hide_or_restore_responses,
)
from pollserver.services.moderation.versions import live_versions
from pollserver.services.polls import definition_of, poll_has_answers, poll_versions

MAX_LISTED_POLLS = 500
STATUS_ORDER = (
    PollStatus.OPEN,
    PollStatus.PAUSED,
    PollStatus.DRAFT,
    PollStatus.CLOSED,
    PollStatus.ARCHIVED,
)
TRANSITION_LABELS = {
    PollStatus.OPEN: "Open now",
    PollStatus.PAUSED: "Pause",
    PollStatus.CLOSED: "Close",
    PollStatus.ARCHIVED: "Archive",
}
STATUS_WORDS = {
    PollStatus.OPEN: "Taking answers",
    PollStatus.PAUSED: "Paused",
    PollStatus.DRAFT: "Drafts",
    PollStatus.CLOSED: "Closed",
    PollStatus.ARCHIVED: "Archived",
}


def version_arg() -> int | None:
    version = request.args.get("version", type=int)
    return version if version is not None and version >= 1 else None


@bp.get("/polls")
@auth.requires(Permission.READ)
def polls():
    now = utcnow()
    newest = page_of(db.session, polls_query(now=now), offset=0, limit=MAX_LISTED_POLLS)
    live = live_versions(db.session, [poll.public_id for poll in newest], now)
    # Each poll under the version readers see (its newest, when none is published yet).
    wanted = [(poll.public_id, live[poll.public_id]) for poll in newest if live[poll.public_id]]
    seen_by_readers = (
        {
            (poll.public_id, poll.version): poll
            for poll in db.session.scalars(
                select(Poll).where(tuple_(Poll.public_id, Poll.version).in_(wanted))
            )
        }
        if wanted
        else {}
    )
    listed = [
        (seen_by_readers.get((poll.public_id, live[poll.public_id]), poll), poll) for poll in newest
    ]
    counts = poll_counts(db.session, [shown.id for shown, _ in listed])
    by_status: dict[PollStatus, list[tuple[Poll, Poll]]] = {status: [] for status in STATUS_ORDER}
    for shown, newest_version in listed:
        by_status[effective_status(shown, now)].append((shown, newest_version))
    waiting = page_of(db.session, articles_query(needs_poll=True), offset=0, limit=100)
    return render_template(
        "admin/polls.html",
        by_status=by_status,
        status_words=STATUS_WORDS,
        counts=counts,
        waiting=waiting,
        truncated=len(newest) == MAX_LISTED_POLLS,
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


def version_rows(poll: Poll, now: dt.datetime) -> list[dict[str, Any]]:
    """The poll's versions, the one on this page marked."""
    return [
        {**row, "current": row["version"] == poll.version}
        for row in version_summaries(db.session, poll.public_id, now)
    ]


@bp.get("/polls/<poll_id>")
@auth.requires(Permission.READ)
def poll_page(poll_id: str):
    poll = load_poll(poll_id, version_arg())
    now = utcnow()
    status = effective_status(poll, now)
    tree = tree_of(poll)
    try:
        chart_range = ChartRange(request.args.get("range", ChartRange.WEEK))
    except ValueError:
        chart_range = ChartRange.WEEK
    hours = answers_per_hour(db.session, poll)
    hour = parse_hour(request.args.get("hour"))
    groups = None
    if hour is not None:
        window = ResponseSelection(started_from=hour, started_until=hour + dt.timedelta(hours=1))
        groups = [
            (
                group,
                paths_taken(
                    db.session,
                    poll,
                    tree,
                    ResponseSelection(
                        address_hash=group.address_hash,
                        started_from=window.started_from,
                        started_until=window.started_until,
                    ),
                ),
            )
            for group in respondents_by_address(
                db.session,
                poll,
                started_from=window.started_from,
                started_until=window.started_until,
                limit=20,
            )
        ]
    events = page_of(
        db.session, audit_events_query(AuditFilter(poll=poll.public_id)), offset=0, limit=10
    )
    warnings = warnings_by_node(definition_of(poll))
    versions = version_rows(poll, now)
    is_live = any(row["live"] and row["current"] for row in versions)
    newer_live = next(
        (row for row in versions if row["live"] and row["version"] > poll.version), None
    )
    return render_template(
        "admin/poll.html",
        poll=poll,
        settings=settings_of(poll.settings),
        visibilities=RESULTS_VISIBILITIES,
        status=status,
        tree=tree,
        warnings=warnings,
        counts=poll_counts(db.session, [poll.id])[poll.id],
        has_answers=poll_has_answers(db.session, poll),
        results=compute_results(poll),
        transitions=[
            (target, TRANSITION_LABELS[target])
            for target in STATUS_ORDER
            if target in TRANSITIONS[status]
            and not (target is PollStatus.OPEN and newer_live is not None)
        ],
        versions=versions,
        is_live=is_live,
        newer_live=newer_live,
        snippets=embed_snippets(poll) if is_live else None,
        picture_url=results_picture_url(poll) if is_live else None,
        chart=build_chart(hours, chart_range, now, newsroom_zone()),
        chart_range=chart_range,
        range_labels=RANGE_LABELS,
        chart_size={"width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP},
        plot_height=PLOT_HEIGHT,
        hours=hours,
        hour=hour,
        hour_end=hour + dt.timedelta(hours=1) if hour else None,
        groups=groups,
        events=readable_events(events),
    )


def refused_back(poll: Poll, refusal: Refused, anchor: str = "") -> Any:
    db.session.rollback()
    flash(refusal.message, "error")
    return back_to_poll(poll.public_id, poll.version, anchor)


@bp.post("/polls/<poll_id>/status")
@auth.requires(Permission.MODERATE)
def change_poll_status(poll_id: str):
    target = request.form.get("status", "")
    if target not in {str(status) for status in PollStatus} | {"discard"}:
        abort(400, description="Choose one of the buttons on the poll's page.")
    begin_write_transaction()
    poll = load_poll(poll_id, version_arg())
    actor = auth.current_actor().name
    try:
        if target == "discard":
            discard_draft(db.session, poll, actor)
        else:
            transition_poll(db.session, poll, PollStatus(target), actor)
    except Refused as refusal:
        return refused_back(poll, refusal, "lifecycle")
    db.session.commit()
    forget_results(poll)
    if target == "discard":
        flash(f"Version {poll.version} was discarded.")
        remaining = poll_versions(db.session, poll_id)
        if not remaining:
            return back_to_list()
        return back_to_poll(poll_id)
    flash(f"Version {poll.version} is now {poll.status}.")
    return back_to_poll(poll_id, poll.version, "lifecycle")


def back_to_list():
    return redirect(url_for("admin_pages.polls"), code=303)


def local_moment(field: str, problems: dict[str, list[str]]) -> dt.datetime | None:
    """A ``datetime-local`` field read in the newsroom's zone (empty: None)."""
    raw = request.form.get(field, "").strip()
    if not raw:
        return None
    try:
        wall_clock = dt.datetime.fromisoformat(raw)
        if wall_clock.tzinfo is not None:
            raise ValueError
        return from_local(wall_clock, newsroom_zone())
    except NotALocalTime as error:
        problems[field] = [str(error)]
    except (ValueError, OverflowError):
        problems[field] = ["is not a date and time (e.g. 2026-12-01T09:00)"]
    return None


@bp.post("/polls/<poll_id>/schedule")
@auth.requires(Permission.MODERATE)
def change_schedule(poll_id: str):
    problems: dict[str, list[str]] = {}
    changes = {
        field: local_moment(field, problems)
        for field in ("open_at", "close_at")
        if field in request.form
    }
    begin_write_transaction()
    poll = load_poll(poll_id, version_arg())
    if problems:
        return refused_back(poll, schedule_refusal(problems), "schedule")
    # The form shows times to the minute: a time left as it was is no change (nor re-checked).
    changes = {
        field: when
        for field, when in changes.items()
        if local_input(when) != local_input(getattr(poll, field))
    }
    try:
        changed = update_settings(db.session, poll, changes, auth.current_actor().name)
    except Refused as refusal:
        return refused_back(poll, refusal, "schedule")
    db.session.commit()
    flash("The schedule is saved." if changed else "The schedule was already so.")
    return back_to_poll(poll_id, poll.version, "schedule")


@bp.post("/polls/<poll_id>/settings")
@auth.requires(Permission.MODERATE)
def change_settings(poll_id: str):
    form = request.form
    origins = [line.strip() for line in form.get("allowed_origins", "").splitlines()]
    submitted = {
        "results_visibility": form.get("results_visibility", ""),
        "allow_answer_changes": form.get("allow_answer_changes") == "on",
        "allowed_origins": [origin for origin in origins if origin],
        "language": form.get("language", "").strip().lower(),
    }
    begin_write_transaction()
    poll = load_poll(poll_id, version_arg())
    try:
        changes = SettingsChangeSchema().load(submitted)
    except ma.ValidationError as error:
        problems = error.normalized_messages()
        message = "; ".join(
            f"{field.replace('_', ' ')}: {' '.join(leaf_messages(texts))}"
            for field, texts in problems.items()
        )
        refusal = Refused(422, f"Nothing was saved. {message}", fields=problems)
        return refused_back(poll, refusal, "settings")
    try:
        changed = update_settings(db.session, poll, changes, auth.current_actor().name)
    except Refused as refusal:
        return refused_back(poll, refusal, "settings")
    db.session.commit()
    forget_results(poll)
    flash("The settings are saved." if changed else "Nothing changed.")
    return back_to_poll(poll_id, poll.version, "settings")


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
    poll = load_poll(poll_id, version_arg())
    outcome = hide_or_restore_responses(
        db.session, poll, tree_of(poll), selection, hidden=hidden, actor=auth.current_actor().name
    )
    db.session.commit()
    forget_results(poll)
    verb = "Hid" if hidden else "Restored"
    flash(f"{verb} {outcome.changed} of {outcome.matched} respondents; the results show it now.")
    target = url_for(
        "admin_pages.poll_page",
        poll_id=poll_id,
        version=poll.version,
        hour=hour.strftime("%Y-%m-%dT%H:00:00Z"),
    )
    return redirect(f"{target}#spike", code=303)


@bp.get("/polls/<poll_id>/responses.csv", defaults={"export_format": "csv"})
@bp.get("/polls/<poll_id>/responses.jsonl", defaults={"export_format": "jsonl"})
@auth.requires(Permission.READ)
def download_responses(poll_id: str, export_format: str):
    """The same export as the API's, for the signed-in desk: no token to copy around."""
    return export_response(poll_id, version_arg(), export_format, auth.current_actor().name)
