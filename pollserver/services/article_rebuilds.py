"""When an article that already has polls is imported again with changes: each block's poll is
rebuilt from the editor's current tree, with the article's changes merged in
(``core.tree_merge``). Every block is planned before anything is written, so a conflict in one
leaves the article and all its polls exactly as they were, and says why.

- the merged tree equals the editor's: nothing changes for readers;
- the poll has no answers: its tree is replaced by the merged one (audited);
- it has answers: the merged tree becomes a new draft version under the same id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pollserver.core.definition import DefinitionError, validate_definition
from pollserver.core.tree_merge import merge_definitions
from pollserver.models import Article, Poll
from pollserver.services.moderation.audit import Action, record_audit
from pollserver.services.polls import (
    create_next_version,
    create_poll,
    definition_of,
    poll_has_answers,
    replace_definition,
)


@dataclass
class BlockPlan:
    block_index: int
    built: dict[str, Any]  # what the builder makes of the article now
    latest: Poll | None  # the block's newest version, if it has one
    merged: dict[str, Any] | None = None
    conflicts: list[str] = field(default_factory=list)
    article_changes: list[str] = field(default_factory=list)
    language: str | None = None  # of the block's Yes/No pair: a new poll's language


def latest_poll_for_block(session: Session, article: Article, block_index: int) -> Poll | None:
    return session.scalar(
        select(Poll)
        .where(Poll.article_id == article.id, Poll.block_index == block_index)
        .order_by(Poll.version.desc())
        .limit(1)
        .with_for_update()  # see find_poll: the answer check below must hold while we write
    )


def plan_block(
    session: Session,
    article: Article | None,
    block_index: int,
    built: dict[str, Any],
    language: str | None = None,
) -> BlockPlan:
    latest = latest_poll_for_block(session, article, block_index) if article else None
    plan = BlockPlan(block_index, built, latest, language=language)
    if latest is None:
        return plan
    ours = definition_of(latest)
    if latest.built_definition is None:
        # Hand-made, or made before the builder's tree was kept: nothing says what the editor
        # changed, so nothing is guessed (the same tree is no change at all).
        if ours != built:
            plan.conflicts = [
                "nothing records what the builder made of the article before (a hand-made "
                "poll, or one older than this record), so the article's changes cannot be "
                "told from the editor's"
            ]
        else:
            plan.merged = ours
        return plan
    merge = merge_definitions(latest.built_definition, ours, built)
    plan.article_changes = merge.article_changes
    if merge.definition is None:
        plan.conflicts = merge.conflicts
        return plan
    try:
        plan.merged = validate_definition(merge.definition)
    except DefinitionError as error:
        plan.conflicts = [f"the article's changes and yours together break a rule: {error}"]
    return plan


def conflict_message(plans: list[BlockPlan]) -> str:
    said = [
        f"poll {plan.latest.public_id if plan.latest else plan.block_index + 1}: "
        + "; ".join(plan.conflicts)
        for plan in plans
        if plan.conflicts
    ]
    return (
        "The article changed where the poll was edited too, so nothing was replaced: "
        + " | ".join(said)
        + ". Make the same change in the poll's editor, then import the article again."
    )


def apply_plan(
    session: Session, article: Article, plan: BlockPlan, actor: str, now: dt.datetime | None
) -> Poll:
    latest = plan.latest
    if latest is None:
        # The article's language is a new poll's; an editor's choice later is theirs to keep.
        settings = {"language": plan.language} if plan.language else None
        poll = create_poll(
            session, plan.built, article=article, block_index=plan.block_index, settings=settings
        )
        poll.built_definition = plan.built
        return poll
    assert plan.merged is not None
    ours = definition_of(latest)
    if plan.merged == ours:
        latest.built_definition = plan.built
        return latest
    if not poll_has_answers(session, latest):
        replace_definition(session, latest, plan.merged)
        latest.built_definition = plan.built
        record_audit(
            session,
            actor,
            Action.POLL_DEFINITION,
            poll_public_id=latest.public_id,
            before=ours,
            after={**plan.merged, "article_changes": plan.article_changes},
            now=now,
        )
        return latest
    # Answers were given to the old tree: they keep their meaning only on the old tree.
    poll = create_next_version(session, latest, plan.merged)
    poll.built_definition = plan.built
    return poll
