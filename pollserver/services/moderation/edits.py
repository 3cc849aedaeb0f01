"""Editing a poll's definition, within one rule: a poll without answers may change freely; once
it has answers its structure is frozen and only the title and node texts may change. A
structural change then needs a new draft version, which keeps the poll's public id.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pollserver.core.lifecycle import PollStatus
from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow
from pollserver.models import Poll
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.moderation.polls import record_poll_created, refuse_if_archived
from pollserver.services.polls import (
    create_next_version,
    definition_of,
    poll_has_answers,
    replace_definition,
)


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
        raise Refused(
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


def refuse_if_draft_waiting(session: Session, poll: Poll) -> None:
    """One draft at a time: a newer draft of the poll is where the next change goes."""
    draft = session.scalar(
        select(Poll.version).where(
            Poll.public_id == poll.public_id,
            Poll.version >= poll.version,
            Poll.status == PollStatus.DRAFT,
        )
    )
    if draft is not None:
        raise Refused(
            409,
            f"Version {draft} of poll {poll.public_id} is a draft: edit it instead of making "
            "another version.",
            {"draft_version": draft},
        )


def create_new_version(
    session: Session,
    poll: Poll,
    definition: dict[str, Any],
    actor: str,
    now: dt.datetime | None = None,
) -> Poll:
    """A new draft version of the poll under the same public id, with ``poll``'s settings (it
    opens when an editor opens it, and then replaces the version readers see)."""
    refuse_if_draft_waiting(session, poll)
    new_poll = create_next_version(session, poll, definition)
    new_poll.built_definition = poll.built_definition  # the article's tree stays the base
    record_poll_created(session, new_poll, actor, now)
    return new_poll
