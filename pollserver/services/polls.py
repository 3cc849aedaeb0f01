"""Storing poll definitions, reading them back, and moving polls through their lifecycle.

Plain Python over a SQLAlchemy ``Session``: no Flask here, so the CLI, the API and the tests use
the same rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, select
from sqlalchemy.orm import Session

from pollserver.core.definition import NodeType
from pollserver.core.identifiers import is_public_id
from pollserver.core.lifecycle import (
    TRANSITIONS,
    InvalidTransition,
    PollStatus,
    live_version,
)
from pollserver.core.poll_settings import DEFAULT_SETTINGS, settings_of
from pollserver.core.timestamps import utcnow
from pollserver.models import Answer, Article, Node, Poll

PUBLIC_ID_BYTES = 6  # 8 URL-safe characters: short enough for a snippet, 2^48 to guess from


def new_public_id(session: Session) -> str:
    while True:
        candidate = secrets.token_urlsafe(PUBLIC_ID_BYTES)
        if candidate.startswith("-"):
            continue  # it would read as an option on a command line: `polls open -4abc`
        if not session.scalar(select(exists().where(Poll.public_id == candidate))):
            return candidate


def nodes_from_definition(definition: dict[str, Any]) -> list[Node]:
    nodes = []
    for position, spec in enumerate(definition["nodes"]):
        nodes.append(
            Node(
                key=spec["id"],
                position=position,
                type=NodeType(spec["type"]),
                text=spec["text"],
                yes_key=spec.get("yes"),
                no_key=spec.get("no"),
                next_key=spec.get("next"),
            )
        )
    return nodes


def definition_on(connection: Connection, poll_id: int) -> tuple[dt.datetime, dict[str, Any]]:
    """The poll's version (``updated_at``) and definition, read on ``connection`` (Core)."""
    polls, nodes = Poll.__table__, Node.__table__
    title, root, updated_at = connection.execute(
        select(polls.c.title, polls.c.root_key, polls.c.updated_at).where(polls.c.id == poll_id)
    ).one()
    rows = connection.execute(
        select(
            nodes.c.key,
            nodes.c.type,
            nodes.c.text,
            nodes.c.yes_key,
            nodes.c.no_key,
            nodes.c.next_key,
        )
        .where(nodes.c.poll_id == poll_id)
        .order_by(nodes.c.position)
    )
    specs = [node_spec(*row) for row in rows]
    return updated_at, {"title": title, "root": root, "nodes": specs}


def definition_of(poll: Poll) -> dict[str, Any]:
    """The poll's canonical definition, as ``pollserver.core.definition`` describes it."""
    nodes = [
        node_spec(node.key, node.type, node.text, node.yes_key, node.no_key, node.next_key)
        for node in poll.nodes
    ]
    return {"title": poll.title, "root": poll.root_key, "nodes": nodes}


def reader_document(poll: Poll, status: PollStatus) -> dict[str, Any]:
    """The poll version as a widget reads it (``PublicPollSchema``), with the status it shows."""
    definition = definition_of(poll)
    return {
        "id": poll.public_id,
        "version": poll.version,
        "title": definition["title"],
        "status": str(status),
        "root": definition["root"],
        "nodes": definition["nodes"],
        "settings": settings_of(poll.settings).for_readers(),
    }


def create_next_version(session: Session, previous: Poll, definition: dict[str, Any]) -> Poll:
    """A new draft version after the poll's newest, from ``previous``: its article block and
    settings, and its public id."""
    newest = session.scalar(
        select(func.max(Poll.version)).where(Poll.public_id == previous.public_id)
    )
    return create_poll(
        session,
        definition,
        article=previous.article,
        block_index=previous.block_index,
        version=(newest or previous.version) + 1,
        previous=previous,
        settings=previous.settings,
    )


def node_spec(
    key: str, node_type: NodeType, text: str, yes: str | None, no: str | None, following: str | None
) -> dict[str, Any]:
    """One node of a definition: a question names its yes and no, an outcome what follows."""
    spec: dict[str, Any] = {"id": key, "type": str(node_type), "text": text}
    if node_type is NodeType.QUESTION:
        spec.update(yes=yes, no=no)
    else:
        spec["next"] = following
    return spec


def create_poll(
    session: Session,
    definition: dict[str, Any],
    *,
    article: Article | None = None,
    block_index: int = 0,
    version: int = 1,
    previous: Poll | None = None,
    settings: dict[str, Any] | None = None,
) -> Poll:
    """Store a validated definition as a new draft poll; a new version of ``previous`` (keeping
    its public id) when one is given."""
    poll = Poll(
        public_id=previous.public_id if previous else new_public_id(session),
        article=article,
        block_index=block_index,
        title=definition["title"],
        status=PollStatus.DRAFT,
        version=version,
        previous_version_id=previous.id if previous else None,
        root_key=definition["root"],
        settings={**DEFAULT_SETTINGS, **(settings or {})},
        nodes=nodes_from_definition(definition),
    )
    session.add(poll)
    session.flush()
    return poll


def replace_definition(session: Session, poll: Poll, definition: dict[str, Any]) -> None:
    """Give a poll without answers a new tree (the caller checks there are none)."""
    poll.nodes.clear()
    session.flush()  # the unique (poll, key) constraint must see the old nodes gone first
    poll.title = definition["title"]
    poll.root_key = definition["root"]
    poll.nodes.extend(nodes_from_definition(definition))
    poll.updated_at = utcnow()


def poll_has_answers(session: Session, poll: Poll) -> bool:
    return bool(session.scalar(select(exists().where(Answer.poll_id == poll.id))))


def change_status(poll: Poll, target: PollStatus, now: dt.datetime | None = None) -> None:
    if target not in TRANSITIONS[poll.status]:
        raise InvalidTransition(poll.public_id, poll.status, target)
    now = now or utcnow()
    poll.status = target
    poll.updated_at = now
    if target is PollStatus.OPEN:
        poll.opened_at = poll.opened_at or now
        poll.closed_at = None
        poll.superseded_at = None  # open again: no longer a replaced version
    elif target is PollStatus.CLOSED:
        poll.closed_at = now


def find_poll(
    session: Session,
    public_id: str,
    version: int | None = None,
    *,
    for_share: bool = False,
    for_update: bool = False,
) -> Poll | None:
    """A version of the poll with this public id, by default its newest (a draft, maybe), or
    None (also for ids no poll could have, e.g. with NUL).

    On PostgreSQL, until the transaction ends: ``for_share`` (answers) keeps the poll from being
    edited between an answer's checks and its write; ``for_update`` (edits, moderation) waits
    for those answers and keeps new ones out, so "has it answers?" stays true while it acts.
    """
    if not is_public_id(public_id):
        return None
    query = select(Poll).where(Poll.public_id == public_id)
    if version is None:
        query = query.order_by(Poll.version.desc()).limit(1)
    else:
        query = query.where(Poll.version == version)
    if for_update:
        # Every version first, newest first (the answer path's order): a change to one version
        # depends on the others (opening one supersedes; a newer live one refuses a reopening).
        session.execute(
            select(Poll.id)
            .where(Poll.public_id == public_id)
            .order_by(Poll.version.desc())
            .with_for_update()
        )
        query = query.with_for_update()
    elif for_share:
        query = query.with_for_update(read=True)
    return session.scalar(query)


def poll_versions(session: Session, public_id: str) -> list[Poll]:
    """Every version of the poll, oldest first."""
    return list(
        session.scalars(select(Poll).where(Poll.public_id == public_id).order_by(Poll.version))
    )


def find_live_poll(session: Session, public_id: str, now: dt.datetime | None = None) -> Poll | None:
    """The version readers see (see ``core.lifecycle.live_version``), or None."""
    if not is_public_id(public_id):
        return None
    return live_version(poll_versions(session, public_id), now)


@dataclasses.dataclass(frozen=True)
class PollFacts:
    """What the public reads and the answer path need of a poll version: one row, no nodes, no
    ORM.

    ``updated_at`` names the state of the version's tree (see
    ``pollserver.results_cache.tree_of``). Facts of the live version carry the poll's other
    published versions in ``others``: readers part-way through one of them may finish it.
    """

    id: int
    public_id: str
    version: int
    status: PollStatus
    open_at: dt.datetime | None
    close_at: dt.datetime | None
    superseded_at: dt.datetime | None
    settings: dict
    updated_at: dt.datetime
    others: tuple[PollFacts, ...] = ()

    @property
    def version_ids(self) -> list[int]:
        return [self.id, *(other.id for other in self.others)]

    def version_with_id(self, poll_id: int) -> PollFacts | None:
        return next((facts for facts in (self, *self.others) if facts.id == poll_id), None)


_polls = Poll.__table__
# Built once with a named parameter: building a statement costs as much as running it. Drafts
# without an opening time and archived versions are never seen by readers.
POLL_FACTS = (
    select(
        _polls.c.id,
        _polls.c.public_id,
        _polls.c.version,
        _polls.c.status,
        _polls.c.open_at,
        _polls.c.close_at,
        _polls.c.superseded_at,
        _polls.c.settings,
        _polls.c.updated_at,
    )
    .where(
        _polls.c.public_id == bindparam("public_id"),
        _polls.c.status != PollStatus.ARCHIVED,
        (_polls.c.status != PollStatus.DRAFT) | _polls.c.open_at.is_not(None),
    )
    .order_by(_polls.c.version.desc())
)
POLL_FACTS_FOR_SHARE = POLL_FACTS.with_for_update(read=True)


def find_poll_facts(
    connection: Connection,
    public_id: str,
    *,
    for_share: bool = False,
    now: dt.datetime | None = None,
) -> PollFacts | None:
    """The live version's facts (:func:`find_live_poll` for the hot paths): one Core statement,
    no ORM objects; None when readers may see no version."""
    if not is_public_id(public_id):
        return None
    query = POLL_FACTS_FOR_SHARE if for_share else POLL_FACTS
    # Rows first, facts only for what is kept: this runs for every answer (almost always for
    # one row: a poll with a single version).
    versions = connection.execute(query, {"public_id": public_id}).all()
    live = live_version(versions, now)
    if live is None:
        return None
    others = tuple(PollFacts(*row) for row in versions if row is not live)
    return PollFacts(*live, others=others)
