"""``pollserver build`` and ``pollserver import``: articles in, polls out."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DataError

from pollserver.core import builder
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.services.articles import ImportOutcome, ImportStatus, import_article
from pollserver.services.moderation.audit import CLI_ACTOR


@click.command("build", short_help="Print the polls built from articles, as JSON.")
@click.argument("paths", nargs=-1, required=True)
def build_command(paths: tuple[str, ...]) -> None:
    """Print the polls built from articles (.txt, .html, .htm) or definitions (.json) as JSON.

    A directory means every article in it. Exits 1 unless every article gave at least one poll.
    """
    entries = [
        builder.build_entry(source, item) for source, item in builder.expand_article_paths(paths)
    ]
    click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
    sys.exit(0 if entries and all(entry["polls"] for entry in entries) else 1)


def import_paths(paths: list[str], *, progress: bool) -> list[ImportOutcome]:
    """Import each article in its own transaction, so one bad file loses nothing else."""
    items = builder.expand_article_paths(paths)
    outcomes: list[ImportOutcome] = []
    with (
        click.progressbar(
            items,
            label="Importing",
            file=sys.stderr,
            item_show_func=lambda item: item[0] if item else None,
        )
        if progress and sys.stderr.isatty()
        else contextlib.nullcontext(items) as bar
    ):
        for source, item in bar:
            if isinstance(item, builder.ArticleError):
                outcomes.append(ImportOutcome(source, ImportStatus.FAILED, message=str(item)))
                continue
            try:
                # Keyed by absolute path, so "seeds/x.txt" and "/…/seeds/x.txt" are one article.
                parsed = replace(builder.read_article(item), source=str(Path(item).resolve()))
            except builder.ArticleError as error:
                outcomes.append(ImportOutcome(source, ImportStatus.FAILED, message=str(error)))
                continue
            begin_write_transaction()
            try:
                outcome = import_article(db.session, parsed, CLI_ACTOR)
                db.session.commit()
            except DataError as error:
                # The database refused a value in this file; the other files go on.
                db.session.rollback()
                reason = str(error.orig).strip().splitlines()[0] if error.orig else "bad value"
                outcome = ImportOutcome(source, ImportStatus.FAILED, message=f"database: {reason}")
            outcomes.append(outcome)
    return outcomes


@click.command("import")
@click.argument("paths", nargs=-1, required=True)
@with_appcontext
def import_command(paths: tuple[str, ...]) -> None:
    """Store articles and their draft polls (idempotent). A directory means every article in it."""
    outcomes = import_paths(list(paths), progress=True)
    for outcome in outcomes:
        polls = ", ".join(
            f"{poll.public_id} (v{poll.version}, {poll.status})" for poll in outcome.polls
        )
        refused = outcome.status in (ImportStatus.FAILED, ImportStatus.CONFLICT)
        detail = outcome.message if refused else polls
        if not refused and not outcome.polls:
            detail = "no poll yet: needs a hand-written definition"
        click.echo(f"{outcome.status:<9}  {outcome.source}: {detail}")
        for poll_id, changes in outcome.changes.items():
            click.echo(f"           the article changed {poll_id}: {'; '.join(changes)}")
    counts = {status: 0 for status in ImportStatus}
    for outcome in outcomes:
        counts[outcome.status] += 1
    shown = [
        status for status in ImportStatus if status is not ImportStatus.CONFLICT or counts[status]
    ]
    click.echo(", ".join(f"{counts[status]} {status}" for status in shown))
    sys.exit(1 if counts[ImportStatus.FAILED] or counts[ImportStatus.CONFLICT] else 0)
