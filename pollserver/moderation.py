"""What moderators do to polls and responses, and the audit log that records it.

Plain Python over a SQLAlchemy ``Session``: no Flask, so the API, the moderation page and the
tests share one set of rules. The caller owns the transaction and, for anything that writes,
begins it as a writer. Refusals are :class:`ModerationRefused`, carrying the HTTP status the API
gives them, so views stay thin translations.

- Lifecycle: only the transitions in ``polls.TRANSITIONS``; a close time that has passed counts
  first, and reopening clears it (else the poll would close again at once).
- Edits: a poll without answers may change freely; once it has answers its structure is frozen
  and only the title and node texts may change. A structural change then needs a new draft
  version linked to the old poll.
- Hiding and restoring: nothing is deleted. Hiding subtracts each respondent's whole walk from the
  running tallies and restoring adds it back, in the same transaction as the flag.
- Exports and the respondent listing stream rows, so a million respondents cost constant memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session, selectinload

from pollserver import builder, tally
from pollserver.answering import respondent_walk
from pollserver.definition import definition_warnings
from pollserver.importing import ImportOutcome, ImportStatus, import_article
from pollserver.models import (
    Answer,
    ApiToken,
    Article,
    AuditEvent,
    Poll,
    PollStatus,
    Respondent,
    ResultCounter,
    utcnow,
)
from pollserver.polls import (
    change_status,
    close_if_due,
    create_poll,
    definition_of,
    effective_status,
    poll_has_answers,
    replace_definition,
)
from pollserver.tree import PollTree

# Not a result: assemble_results ignores counters it does not know, and this one lets a poll list
# show how many respondents are hidden without counting rows.
HIDDEN_RESPONDENTS = "moderation:hidden"
HIDE_BATCH = 500  # respondents locked and adjusted per round trip
EXPORT_BATCH = 2000  # rows fetched per round trip while streaming
AUDIT_IDS_KEPT = 200  # respondent ids listed in one audit event; the selection says the rest
SETTING_KEYS = ("results_visibility", "allow_answer_changes", "allowed_origins", "language")
CLI_ACTOR = "cli"
MAX_SQL_OFFSET = 2**62
FORMAT_BY_SUFFIX = {".html": "html", ".htm": "html", ".txt": "text", ".json": "definition"}


class Action(enum.StrEnum):
    """What an audit event records."""

    ARTICLE_SUBMIT = "article.submit"
    POLL_CREATE = "poll.create"
    POLL_STATUS = "poll.status"
    POLL_SETTINGS = "poll.settings"
    POLL_TEXT_FIX = "poll.text_fix"
    POLL_DEFINITION = "poll.definition"
    POLL_DELETE = "poll.delete"
    RESPONSES_HIDE = "responses.hide"
    RESPONSES_RESTORE = "responses.restore"
    RESPONSES_EXPORT = "responses.export"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"


class ModerationRefused(Exception):
    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` with datetimes and enums as JSON-friendly strings (audit before/after)."""
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


# --- audit log ----------------------------------------------------------------------------------


def record_audit(
    session: Session,
    actor: str,
    action: Action,
    *,
    poll_public_id: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event. There is no function to change or remove one, by design."""
    event = AuditEvent(
        actor=actor,
        action=str(action),
        poll_public_id=poll_public_id,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        created_at=now or utcnow(),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    poll: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def audit_events_query(criteria: AuditFilter) -> Select[tuple[AuditEvent]]:
    """Matching events, newest first. ``action`` ending in "." matches a family ("responses.")."""
    query = select(AuditEvent)
    if criteria.poll:
        query = query.where(AuditEvent.poll_public_id == criteria.poll)
    if criteria.action:
        if criteria.action.endswith("."):
            query = query.where(AuditEvent.action.startswith(criteria.action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == criteria.action)
    if criteria.actor:
        query = query.where(AuditEvent.actor == criteria.actor)
    if criteria.since:
        query = query.where(AuditEvent.created_at >= criteria.since)
    if criteria.until:
        query = query.where(AuditEvent.created_at < criteria.until)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def count_rows(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def page_of(session: Session, query: Select, *, offset: int, limit: int) -> list[Any]:
    if offset > MAX_SQL_OFFSET:  # past any table there is; SQLite cannot even bind it
        return []
    return list(session.scalars(query.offset(offset).limit(limit)))


# --- polls: listing and counts ------------------------------------------------------------------


@dataclass(frozen=True)
class PollCounts:
    respondents: int = 0  # visible readers who started
    finished: int = 0  # visible readers who reached the end of a path
    hidden: int = 0  # readers hidden by moderation


def poll_counts(session: Session, poll_ids: Sequence[int]) -> dict[int, PollCounts]:
    """Counts for many polls from the running tallies: one query, no row counting."""
    if not poll_ids:
        return {}
    wanted = (tally.STARTED, tally.FINISHED, HIDDEN_RESPONDENTS)
    rows = session.execute(
        select(ResultCounter.poll_id, ResultCounter.counter, func.sum(ResultCounter.value))
        .where(ResultCounter.poll_id.in_(poll_ids), ResultCounter.counter.in_(wanted))
        .group_by(ResultCounter.poll_id, ResultCounter.counter)
    )
    values: dict[int, dict[str, int]] = {poll_id: {} for poll_id in poll_ids}
    for poll_id, counter, total in rows:
        values[poll_id][counter] = int(total or 0)
    return {
        poll_id: PollCounts(
            respondents=found.get(tally.STARTED, 0),
            finished=found.get(tally.FINISHED, 0),
            hidden=found.get(HIDDEN_RESPONDENTS, 0),
        )
        for poll_id, found in values.items()
    }


def effective_status_is(status: PollStatus, now: dt.datetime) -> ColumnElement[bool]:
    """SQL for "the poll's effective status is ``status``" (a passed close time means closed)."""
    running = Poll.status.in_([PollStatus.OPEN, PollStatus.PAUSED])
    due = and_(running, Poll.close_at.is_not(None), Poll.close_at <= now)
    if status is PollStatus.CLOSED:
        return or_(Poll.status == PollStatus.CLOSED, due)
    if status in (PollStatus.OPEN, PollStatus.PAUSED):
        return and_(Poll.status == status, or_(Poll.close_at.is_(None), Poll.close_at > now))
    return Poll.status == status


def polls_query(
    *,
    status: PollStatus | None = None,
    article_id: int | None = None,
    search: str | None = None,
    now: dt.datetime | None = None,
) -> Select[tuple[Poll]]:
    query = select(Poll)
    if status is not None:
        query = query.where(effective_status_is(status, now or utcnow()))
    if article_id is not None:
        query = query.where(Poll.article_id == article_id)
    if search:
        query = query.where(Poll.title.icontains(search, autoescape=True))
    return query.order_by(Poll.updated_at.desc(), Poll.id.desc())


def later_versions(session: Session, poll: Poll) -> list[Poll]:
    return list(
        session.scalars(
            select(Poll).where(Poll.previous_version_id == poll.id).order_by(Poll.version)
        )
    )


# --- lifecycle ----------------------------------------------------------------------------------


def transition_poll(
    session: Session, poll: Poll, target: PollStatus, actor: str, now: dt.datetime | None = None
) -> None:
    """Move a poll to ``target``; ``polls.InvalidTransition`` when that is not allowed."""
    now = now or utcnow()
    before = {"status": effective_status(poll, now), "close_at": poll.close_at}
    close_if_due(poll, now)
    # Reopening with a close time that has passed would close the poll again at once.
    reopening_past_close = (
        target is PollStatus.OPEN and poll.close_at is not None and poll.close_at <= now
    )
    change_status(poll, target, now)  # InvalidTransition explains what is allowed instead
    if reopening_past_close:
        poll.close_at = None
    record_audit(
        session,
        actor,
        Action.POLL_STATUS,
        poll_public_id=poll.public_id,
        before=before,
        after={"status": poll.status, "close_at": poll.close_at},
        now=now,
    )


def refuse_if_archived(poll: Poll) -> None:
    if poll.status is PollStatus.ARCHIVED:
        raise ModerationRefused(
            409,
            f"Poll {poll.public_id} is archived: it can no longer be edited.",
            {"status": "archived"},
        )


def delete_archived_poll(
    session: Session, poll: Poll, actor: str, now: dt.datetime | None = None
) -> None:
    """Delete a poll with all its responses and tallies; only archived polls may go."""
    if poll.status is not PollStatus.ARCHIVED:
        raise ModerationRefused(
            409,
            f"Poll {poll.public_id} is {poll.status}: only archived polls can be deleted "
            "(close it, then archive it).",
            {"status": str(poll.status)},
        )
    counts = poll_counts(session, [poll.id])[poll.id]
    record_audit(
        session,
        actor,
        Action.POLL_DELETE,
        poll_public_id=poll.public_id,
        before={
            "title": poll.title,
            "status": poll.status,
            "version": poll.version,
            "respondents": counts.respondents,
            "hidden": counts.hidden,
        },
        now=now,
    )
    article = poll.article
    # Respondents, answers and tallies go with it through ON DELETE CASCADE.
    session.delete(poll)
    session.flush()
    if article is not None and not session.scalar(
        select(func.count()).select_from(Poll).where(Poll.article_id == article.id)
    ):
        article.needs_poll = True  # back on the list of articles waiting for a poll


# --- edits --------------------------------------------------------------------------------------


class EditKind(enum.StrEnum):
    NONE = "none"
    TEXT = "text"  # only the title and node texts differ
    STRUCTURE = "structure"  # anything else: nodes, types, branches, root or order


def structure_of(definition: Mapping[str, Any]) -> tuple[Any, ...]:
    nodes = tuple(
        (node["id"], node["type"], node.get("yes"), node.get("no"), node.get("next"))
        for node in definition["nodes"]
    )
    return definition["root"], nodes


def texts_of(definition: Mapping[str, Any]) -> dict[str, str]:
    texts = {"title": definition["title"]}
    texts.update({f"node:{node['id']}": node["text"] for node in definition["nodes"]})
    return texts


def classify_edit(old: Mapping[str, Any], new: Mapping[str, Any]) -> EditKind:
    if structure_of(old) != structure_of(new):
        return EditKind.STRUCTURE
    return EditKind.TEXT if texts_of(old) != texts_of(new) else EditKind.NONE


def changed_texts(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    old_texts, new_texts = texts_of(old), texts_of(new)
    keys = [key for key in old_texts if old_texts[key] != new_texts.get(key)]
    return {key: old_texts[key] for key in keys}, {key: new_texts[key] for key in keys}


def apply_text_fix(poll: Poll, definition: Mapping[str, Any], now: dt.datetime) -> None:
    """Change texts in place: the nodes, their keys and every answer to them stay as they are."""
    texts = {node["id"]: node["text"] for node in definition["nodes"]}
    poll.title = definition["title"]
    for node in poll.nodes:
        node.text = texts[node.key]
    poll.updated_at = now  # the cached tree is keyed on it


def edit_definition(
    session: Session,
    poll: Poll,
    definition: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> EditKind:
    """Apply a validated definition to a poll, within the rules in the module docstring."""
    now = now or utcnow()
    refuse_if_archived(poll)
    old = definition_of(poll)
    kind = classify_edit(old, definition)
    if kind is EditKind.NONE:
        return kind
    if kind is EditKind.TEXT:
        before, after = changed_texts(old, definition)
        apply_text_fix(poll, definition, now)
        record_audit(
            session,
            actor,
            Action.POLL_TEXT_FIX,
            poll_public_id=poll.public_id,
            before=before,
            after=after,
            now=now,
        )
        return kind
    if poll_has_answers(session, poll):
        raise ModerationRefused(
            409,
            f"Poll {poll.public_id} has answers, so its structure is frozen: only the title and "
            "node texts may change. Make a new draft version for a different tree.",
            {
                "structure": "frozen: the poll has answers",
                "new_version": f"POST /api/v1/admin/polls/{poll.public_id}/versions",
            },
        )
    replace_definition(session, poll, definition)
    poll.updated_at = now
    record_audit(
        session,
        actor,
        Action.POLL_DEFINITION,
        poll_public_id=poll.public_id,
        before=old,
        after=definition,
        now=now,
    )
    return kind


def next_version_number(session: Session, poll: Poll) -> int:
    if poll.article_id is not None:
        siblings = Poll.article_id == poll.article_id, Poll.block_index == poll.block_index
    else:
        siblings = (or_(Poll.id == poll.id, Poll.previous_version_id == poll.id),)
    return (session.scalar(select(func.max(Poll.version)).where(*siblings)) or poll.version) + 1


def create_new_version(
    session: Session,
    poll: Poll,
    definition: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> Poll:
    """A new draft for the same article block, linked to ``poll``, with its settings."""
    new_poll = create_poll(
        session,
        definition,
        article=poll.article,
        block_index=poll.block_index,
        version=next_version_number(session, poll),
        previous=poll,
        settings=poll.settings,
    )
    record_poll_created(session, new_poll, actor, now)
    return new_poll


def record_poll_created(
    session: Session, poll: Poll, actor: str, now: dt.datetime | None = None
) -> None:
    previous = session.get(Poll, poll.previous_version_id) if poll.previous_version_id else None
    record_audit(
        session,
        actor,
        Action.POLL_CREATE,
        poll_public_id=poll.public_id,
        after={
            "title": poll.title,
            "version": poll.version,
            "previous_version": previous.public_id if previous else None,
            "article": poll.article_id,
        },
        now=now,
    )


def update_settings(
    session: Session,
    poll: Poll,
    changes: Mapping[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Change widget settings and the close time; returns what changed (allowed once answered)."""
    now = now or utcnow()
    refuse_if_archived(poll)
    # A close time that already passed has closed the poll: moving it later does not reopen it.
    close_if_due(poll, now)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    settings = dict(poll.settings)
    for key in SETTING_KEYS:
        if key in changes and changes[key] != settings.get(key):
            before[key], after[key] = settings.get(key), changes[key]
            settings[key] = changes[key]
    if "close_at" in changes and changes["close_at"] != poll.close_at:
        before["close_at"], after["close_at"] = poll.close_at, changes["close_at"]
        poll.close_at = changes["close_at"]
    if after:
        poll.settings = settings  # a new dict: the JSON column does not track mutation
        poll.updated_at = now
        record_audit(
            session,
            actor,
            Action.POLL_SETTINGS,
            poll_public_id=poll.public_id,
            before=before,
            after=after,
            now=now,
        )
    return after


# --- articles -----------------------------------------------------------------------------------


def default_article_source(raw: bytes, filename: str | None) -> str:
    """A source name for an article sent without one: the same bytes give the same article."""
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if filename:
        filename = re.sub(r"[\x00-\x1f\x7f]", "", filename)[:200]
    # Keeping the file name at the end lets the builder guess the format from its suffix.
    return f"submitted:{digest}/{filename}" if filename else f"submitted:{digest}"


def submit_article(
    session: Session,
    raw: bytes,
    *,
    source: str | None,
    format: str | None,
    filename: str | None,
    actor: str,
    now: dt.datetime | None = None,
) -> ImportOutcome:
    """Store an article and the draft polls the builder finds in it (idempotent per source)."""
    source = source or default_article_source(raw, filename)
    if format is None and filename:
        format = FORMAT_BY_SUFFIX.get(PurePath(filename).suffix.lower())
    try:
        parsed = builder.parse_article(raw, source, format=format)
    except builder.ArticleError as error:
        return ImportOutcome(source, ImportStatus.FAILED, message=str(error))
    known_polls = set(
        session.scalars(select(Poll.id).join(Article).where(Article.source == source))
    )
    outcome = import_article(session, parsed)
    if outcome.status in (ImportStatus.FAILED, ImportStatus.UNCHANGED) or outcome.article is None:
        return outcome
    session.flush()
    record_audit(
        session,
        actor,
        Action.ARTICLE_SUBMIT,
        after={
            "article": outcome.article.id,
            "source": source,
            "status": outcome.status,
            "polls": [poll.public_id for poll in outcome.polls],
            "warnings": outcome.warnings,
        },
        now=now,
    )
    for poll in outcome.polls:
        if poll.id not in known_polls:
            record_poll_created(session, poll, actor, now)
    return outcome


def articles_query(*, needs_poll: bool | None = None) -> Select[tuple[Article]]:
    query = select(Article).options(selectinload(Article.polls))
    if needs_poll is not None:
        query = query.where(Article.needs_poll.is_(needs_poll))
    return query.order_by(Article.created_at.desc(), Article.id.desc())


def attach_definition(
    session: Session,
    article: Article,
    definition: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> Poll:
    """Give an article a hand-written poll (a draft), e.g. when the builder found no flowchart."""
    last_block = session.scalar(
        select(func.max(Poll.block_index)).where(Poll.article_id == article.id)
    )
    poll = create_poll(
        session,
        definition,
        article=article,
        block_index=0 if last_block is None else last_block + 1,
    )
    article.needs_poll = False
    record_poll_created(session, poll, actor, now)
    return poll


# --- response moderation ------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseSelection:
    """Which respondents of a poll to act on; every criterion given must hold.

    ``started_from``/``started_until`` is a half-open window on when the respondent started.
    """

    respondent_ids: tuple[int, ...] = ()
    address_hash: str | None = None
    started_from: dt.datetime | None = None
    started_until: dt.datetime | None = None

    def is_empty(self) -> bool:
        return not (
            self.respondent_ids or self.address_hash or self.started_from or self.started_until
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.respondent_ids:
            conditions.append(Respondent.id.in_(self.respondent_ids))
        if self.address_hash:
            conditions.append(Respondent.address_hash == self.address_hash)
        if self.started_from:
            conditions.append(Respondent.started_at >= self.started_from)
        if self.started_until:
            conditions.append(Respondent.started_at < self.started_until)
        return conditions

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {}
        if self.respondent_ids:
            described["respondents"] = list(self.respondent_ids)
        if self.address_hash:
            described["address_hash"] = self.address_hash
        if self.started_from:
            described["started_from"] = iso(self.started_from)
        if self.started_until:
            described["started_until"] = iso(self.started_until)
        return described


@dataclass
class ModerationOutcome:
    matched: int  # respondents the selection names
    changed: int  # of those, how many were not already hidden (or visible)
    respondent_ids: list[int] = field(default_factory=list)


def set_responses_hidden(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection,
    *,
    hidden: bool,
    now: dt.datetime,
) -> ModerationOutcome:
    """Hide (or restore) the selected respondents and take their walks out of (or back into)
    the tallies, in the caller's transaction. Respondents already so are skipped."""
    if selection.is_empty():
        raise ValueError("an empty selection would act on every respondent of the poll")
    sign = -1 if hidden else 1
    base = select(Respondent).where(Respondent.poll_id == poll.id, *selection.conditions())
    matched = count_rows(session, base)
    deltas: Counter[str] = Counter()
    changed_ids: list[int] = []
    last_id = 0
    while True:
        # Locked so an answer arriving for one of them waits, then sees the new flag.
        batch = list(
            session.scalars(
                base.where(Respondent.hidden.is_(not hidden), Respondent.id > last_id)
                .order_by(Respondent.id)
                .limit(HIDE_BATCH)
                .options(selectinload(Respondent.answers))
                .with_for_update(of=Respondent)
            )
        )
        if not batch:
            break
        for respondent in batch:
            walk = respondent_walk(tree, respondent)
            times = [answer.answered_at for answer in respondent.answers]
            for counter, value in tally.walk_contributions(walk, times).items():
                deltas[counter] += sign * value
            respondent.hidden = hidden
            respondent.hidden_at = now if hidden else None
            changed_ids.append(respondent.id)
        last_id = batch[-1].id
        session.flush()
        for respondent in batch:  # keep the identity map small on big spikes
            session.expunge(respondent)
    if changed_ids:
        deltas[HIDDEN_RESPONDENTS] += len(changed_ids) if hidden else -len(changed_ids)
    tally.apply_counts(session, poll.id, {key: value for key, value in deltas.items() if value})
    return ModerationOutcome(matched=matched, changed=len(changed_ids), respondent_ids=changed_ids)


def moderate_responses(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection,
    *,
    hidden: bool,
    actor: str,
    now: dt.datetime | None = None,
) -> ModerationOutcome:
    """Hide or restore responses and record it in the audit log."""
    now = now or utcnow()
    outcome = set_responses_hidden(session, poll, tree, selection, hidden=hidden, now=now)
    record_audit(
        session,
        actor,
        Action.RESPONSES_HIDE if hidden else Action.RESPONSES_RESTORE,
        poll_public_id=poll.public_id,
        before={"hidden": not hidden},
        after={
            "hidden": hidden,
            "selection": selection.describe(),
            "matched": outcome.matched,
            "changed": outcome.changed,
            "respondents": outcome.respondent_ids[:AUDIT_IDS_KEPT],
        },
        now=now,
    )
    return outcome


# --- spikes -------------------------------------------------------------------------------------


def hour_of(column: Any, dialect: str) -> ColumnElement[str]:
    """SQL for the UTC hour a timestamp falls in, as "2025-01-31T14:00:00Z"."""
    # Literal formats (not bound parameters) so GROUP BY sees the same expression as SELECT.
    if dialect == "postgresql":
        return func.to_char(
            func.timezone(literal_column("'UTC'"), column),
            literal_column('\'YYYY-MM-DD"T"HH24":00:00Z"\''),
        )
    return func.strftime(literal_column("'%Y-%m-%dT%H:00:00Z'"), column)


@dataclass(frozen=True)
class HourActivity:
    hour: str  # start of the hour, UTC
    answers: int
    hidden_answers: int  # answers by respondents now hidden
    respondents_started: int


def answers_per_hour(
    session: Session,
    poll: Poll,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[HourActivity]:
    """Answers (and new respondents) per hour, hidden ones counted apart: spikes stand out."""
    dialect = session.get_bind().dialect.name
    answer_hour = hour_of(Answer.answered_at, dialect).label("hour")
    answers = (
        select(
            answer_hour,
            func.count(Answer.id),
            func.sum(case((Respondent.hidden.is_(True), 1), else_=0)),
        )
        .join(Respondent, Respondent.id == Answer.respondent_id)
        .where(Answer.poll_id == poll.id)
    )
    started_hour = hour_of(Respondent.started_at, dialect).label("hour")
    started = select(started_hour, func.count(Respondent.id)).where(Respondent.poll_id == poll.id)
    if since is not None:
        answers = answers.where(Answer.answered_at >= since)
        started = started.where(Respondent.started_at >= since)
    if until is not None:
        answers = answers.where(Answer.answered_at < until)
        started = started.where(Respondent.started_at < until)
    by_hour: dict[str, list[int]] = {}
    for hour, count, hidden in session.execute(answers.group_by("hour")):
        by_hour.setdefault(hour, [0, 0, 0])[:2] = [int(count), int(hidden or 0)]
    for hour, count in session.execute(started.group_by("hour")):
        by_hour.setdefault(hour, [0, 0, 0])[2] = int(count)
    return [
        HourActivity(
            hour, answers=values[0], hidden_answers=values[1], respondents_started=values[2]
        )
        for hour, values in sorted(by_hour.items())
    ]


@dataclass(frozen=True)
class AddressGroup:
    """Respondents who share one daily address hash (never the address itself)."""

    address_hash: str | None
    respondents: int
    hidden: int
    finished: int
    first_started: dt.datetime
    last_started: dt.datetime


def respondents_by_address(
    session: Session,
    poll: Poll,
    *,
    started_from: dt.datetime | None = None,
    started_until: dt.datetime | None = None,
    limit: int = 50,
) -> list[AddressGroup]:
    """The respondents behind a spike, grouped by address hash, biggest group first."""
    selection = ResponseSelection(started_from=started_from, started_until=started_until)
    respondents = func.count(Respondent.id)
    rows = session.execute(
        select(
            Respondent.address_hash,
            respondents,
            func.sum(case((Respondent.hidden.is_(True), 1), else_=0)),
            func.count(Respondent.finished_at),
            func.min(Respondent.started_at),
            func.max(Respondent.started_at),
        )
        .where(Respondent.poll_id == poll.id, *selection.conditions())
        .group_by(Respondent.address_hash)
        .order_by(respondents.desc(), Respondent.address_hash)
        .limit(limit)
    )
    return [
        AddressGroup(
            address_hash=address_hash,
            respondents=int(count),
            hidden=int(hidden or 0),
            finished=int(finished),
            first_started=first,
            last_started=last,
        )
        for address_hash, count, hidden, finished, first, last in rows
    ]


# --- respondents and exports --------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRecord:
    """One respondent's walk, as exports and the respondent listing show it."""

    respondent: int  # a pseudonym: the row id, unrelated to the reader's token or address
    started_at: dt.datetime
    finished_at: dt.datetime | None
    path: list[tuple[str, str]]
    outcome: list[str]
    hidden: bool
    address_hash: str | None


def response_records(
    session: Session,
    poll: Poll,
    tree: PollTree,
    selection: ResponseSelection | None = None,
    *,
    respondent_ids: Iterable[int] | None = None,
) -> Iterator[ResponseRecord]:
    """Respondents of a poll with their walks, streamed in id order.

    Rows come ``EXPORT_BATCH`` at a time (a server-side cursor on PostgreSQL) as plain tuples,
    one respondent is assembled at a time, and nothing is kept: memory stays flat at any size.
    """
    query = (
        select(
            Respondent.id,
            Respondent.started_at,
            Respondent.finished_at,
            Respondent.hidden,
            Respondent.address_hash,
            Answer.node_key,
            Answer.value,
        )
        .outerjoin(Answer, Answer.respondent_id == Respondent.id)
        .where(Respondent.poll_id == poll.id)
        .order_by(Respondent.id, Answer.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    if selection is not None:
        query = query.where(*selection.conditions())
    if respondent_ids is not None:
        query = query.where(Respondent.id.in_(list(respondent_ids)))
    rows = session.execute(query)
    for respondent_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        answers: dict[str, str] = {}
        for row in group:
            first = row
            if row.node_key is not None:
                answers[row.node_key] = str(row.value)
        walk = tree.walk(answers)
        yield ResponseRecord(
            respondent=respondent_id,
            started_at=first.started_at,
            finished_at=first.finished_at,
            path=walk.path,
            outcome=walk.outcomes,
            hidden=bool(first.hidden),
            address_hash=first.address_hash,
        )


def respondents_query(poll: Poll, selection: ResponseSelection, hidden: bool | None) -> Select:
    query = select(Respondent.id).where(Respondent.poll_id == poll.id, *selection.conditions())
    if hidden is not None:
        query = query.where(Respondent.hidden.is_(hidden))
    return query.order_by(Respondent.id)


EXPORT_COLUMNS = ("respondent", "started", "finished", "path", "outcome", "hidden")


def export_document(record: ResponseRecord) -> dict[str, Any]:
    """One respondent as exported: no address hash, which must not leave the service."""
    return {
        "respondent": record.respondent,
        "started": iso(record.started_at),
        "finished": iso(record.finished_at),
        "path": [{"node": key, "answer": answer} for key, answer in record.path],
        "outcome": record.outcome,
        "hidden": record.hidden,
    }


def csv_lines(records: Iterable[ResponseRecord]) -> Iterator[str]:
    """CSV text, one line at a time: path as "q1:yes>q2:no", outcome as "o1>o3"."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(values: Sequence[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    for record in records:
        yield line(
            (
                record.respondent,
                iso(record.started_at),
                iso(record.finished_at) or "",
                ">".join(f"{key}:{answer}" for key, answer in record.path),
                ">".join(record.outcome),
                "true" if record.hidden else "false",
            )
        )


def json_lines(records: Iterable[ResponseRecord]) -> Iterator[str]:
    for record in records:
        yield json.dumps(export_document(record), ensure_ascii=False) + "\n"


def record_export(
    session: Session, poll: Poll, export_format: str, actor: str, now: dt.datetime | None = None
) -> None:
    record_audit(
        session,
        actor,
        Action.RESPONSES_EXPORT,
        poll_public_id=poll.public_id,
        after={"format": export_format},
        now=now,
    )


# --- tokens (audited wrappers; the token rules live in pollserver.auth) -------------------------


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


def definition_summary(poll: Poll) -> dict[str, Any]:
    """The poll's definition and the warnings an editor may want to look at."""
    definition = definition_of(poll)
    return {"definition": definition, "warnings": definition_warnings(definition)}
