"""The ``pollserver`` command: a Flask CLI group bound to the app factory."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, with_appcontext
from sqlalchemy import exists, select
from sqlalchemy.exc import DataError, OperationalError, ProgrammingError

from pollserver import builder
from pollserver.config import uses_shared_limit_storage
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.importing import ImportOutcome, ImportStatus, import_article
from pollserver.models import Article, Poll, PollStatus
from pollserver.polls import InvalidTransition, change_status, find_poll

CLI_ACTOR = "cli"  # how the audit log names changes made from the command line


def create_cli_app() -> Flask:
    from pollserver import create_app
    from pollserver.config import ConfigError

    try:
        return create_app()
    except ConfigError as error:
        # A bad setting is the operator's to fix: say which, not where in our code it was read.
        raise NoAppException(f"configuration: {error}") from None


class PollserverGroup(FlaskGroup):
    """The command group; a database problem becomes a one-line message, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise click.ClickException(
                f"database error: {reason}. If the schema is missing or old, run: "
                "pollserver db upgrade"
            ) from None


@click.group(cls=PollserverGroup, create_app=create_cli_app, add_version_option=True)
def main() -> None:
    """pollserver: reader polls built from the yes/no flowcharts in news articles."""


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on [env POLLSERVER_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env POLLSERVER_PORT, 8000].")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes [env POLLSERVER_WORKERS; 1 on in-memory limits, 2 per core on Redis].",
)
@click.option(
    "--threads", type=int, default=None, help="Threads per worker [env POLLSERVER_THREADS, 8]."
)
@click.option(
    "--seed/--no-seed",
    default=True,
    help="On an empty database, import the sample articles and open their polls [--seed].",
)
@with_appcontext
def serve_command(
    host: str | None, port: int | None, workers: int | None, threads: int | None, seed: bool
):
    """Migrate the database (and seed an empty one), then serve pollserver with gunicorn."""
    from flask_migrate import upgrade

    from pollserver.server import PollserverGunicorn, choose_worker_count, gunicorn_options

    config = current_app.config
    try:
        worker_count = choose_worker_count(
            workers if workers is not None else config["POLLSERVER_WORKERS"],
            uses_shared_limit_storage(config),
            bool(config["RATELIMIT_ENABLED"]),
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    prepare_shared_metrics(Path(current_app.instance_path) / "metrics")
    upgrade()
    if seed:
        seed_empty_database(Path(config["POLLSERVER_SEEDS_DIR"]))
    # The master process must not hand its open connections to forked workers.
    db.session.remove()
    db.engine.dispose()

    options = gunicorn_options(
        host=host or config["POLLSERVER_HOST"],
        port=port or config["POLLSERVER_PORT"],
        workers=worker_count,
        threads=threads or config["POLLSERVER_THREADS"],
    )
    click.echo(
        f"pollserver: serving on http://{options['bind']} with {worker_count} worker(s)", err=True
    )
    # Freeze what the master built before gunicorn forks: the workers' collections then never
    # walk (and copy) those objects, nor run their finalizers while a quit signal is pending.
    gc.collect()
    gc.freeze()
    PollserverGunicorn(options).run()


def prepare_shared_metrics(folder: Path) -> None:
    """Let every gunicorn worker write its metrics where any worker can report them all."""
    import shutil

    import prometheus_client.values

    from pollserver.metrics import MULTIPROCESS_ENV

    shutil.rmtree(folder, ignore_errors=True)  # numbers of a previous run are not this run's
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    # prometheus_client picks its value storage when first imported (here, before the variable
    # was set); workers create their metrics after the fork, so pick again now.
    prometheus_client.values.ValueClass = prometheus_client.values.get_value_class()


def seed_empty_database(seeds_dir: Path) -> None:
    """Give a newcomer live polls at once: import the sample articles and open their polls."""
    if db.session.scalar(select(exists().select_from(Article))):
        return
    if not seeds_dir.is_dir():
        click.echo(f"pollserver: no sample articles at {seeds_dir}; starting empty", err=True)
        return
    outcomes = import_paths([str(seeds_dir)], progress=False)
    begin_write_transaction()
    opened = 0
    for outcome in outcomes:
        for poll in outcome.polls:
            poll = db.session.merge(poll)
            if poll.status is PollStatus.DRAFT:
                change_status(poll, PollStatus.OPEN)
                opened += 1
    db.session.commit()
    click.echo(f"pollserver: imported {seeds_dir} and opened {opened} poll(s)", err=True)


@click.command("build")
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
                outcome = import_article(db.session, parsed)
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
        detail = outcome.message if outcome.status is ImportStatus.FAILED else polls
        if outcome.status is not ImportStatus.FAILED and not outcome.polls:
            detail = "no poll yet: needs a hand-written definition"
        click.echo(f"{outcome.status:<9}  {outcome.source}: {detail}")
    counts = {status: 0 for status in ImportStatus}
    for outcome in outcomes:
        counts[outcome.status] += 1
    click.echo(", ".join(f"{counts[status]} {status}" for status in ImportStatus))
    sys.exit(1 if counts[ImportStatus.FAILED] else 0)


@click.group("polls")
def polls_group() -> None:
    """List polls and move them through their lifecycle."""


@polls_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def polls_list_command(as_json: bool) -> None:
    """Every poll with its status, version and article."""
    polls = db.session.scalars(select(Poll).order_by(Poll.id)).all()
    rows = [
        {
            "id": poll.public_id,
            "status": str(poll.status),
            "version": poll.version,
            "title": poll.title,
            "article": poll.article.source if poll.article else None,
        }
        for poll in polls
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no polls yet: pollserver import PATH… builds them from articles")
        return
    click.echo(f"{'ID':<10} {'STATUS':<9} {'V':>2}  TITLE")
    for row in rows:
        click.echo(f"{row['id']:<10} {row['status']:<9} {row['version']:>2}  {row['title']}")


def _lifecycle_command(name: str, target: PollStatus, verb: str):
    @click.argument("poll_id")
    @with_appcontext
    def command(poll_id: str) -> None:
        from pollserver.moderation import transition_poll

        begin_write_transaction()
        poll = find_poll(db.session, poll_id, for_update=True)
        if poll is None:
            raise click.ClickException(f"no poll {poll_id!r} (pollserver polls list shows them)")
        try:
            # The same rules and audit record as the moderation API; the actor is the shell.
            transition_poll(db.session, poll, target, CLI_ACTOR)
        except InvalidTransition as error:
            raise click.ClickException(str(error)) from None
        db.session.commit()
        click.echo(f"poll {poll.public_id} is now {poll.status}")

    command.__doc__ = f"{verb} a poll."
    return click.command(name)(command)


for _name, _target, _verb in (
    ("open", PollStatus.OPEN, "Open (or reopen)"),
    ("pause", PollStatus.PAUSED, "Pause"),
    ("close", PollStatus.CLOSED, "Close"),
    ("archive", PollStatus.ARCHIVED, "Archive"),
):
    polls_group.add_command(_lifecycle_command(_name, _target, _verb))


@click.command("results")
@click.argument("poll_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON document.")
@with_appcontext
def results_command(poll_id: str, as_json: bool) -> None:
    """Aggregate results of a poll, whatever its visibility (the same numbers as the API)."""
    from pollserver.api.cache import compute_results, tree_of

    poll = find_poll(db.session, poll_id)
    if poll is None:
        raise click.ClickException(f"no poll {poll_id!r} (pollserver polls list shows them)")
    results = compute_results(poll)
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    click.echo(format_results(poll, tree_of(poll), results))


def percent(share: float | None) -> str:
    return "   –  " if share is None else f"{share * 100:5.1f}%"


def format_results(poll: Poll, tree, results: dict) -> str:
    lines = [
        f"{poll.title}  [{poll.public_id}, {poll.status}]",
        f"as of {results['as_of']}: {results['respondents']} respondents, "
        f"{results['finished']} finished",
    ]
    if not results["shares_published"]:
        lines.append(f"fewer than {results['min_respondents']} respondents: counts only, no shares")
    lines.append("")
    lines.append(
        f"{'QUESTION':<40} {'REACHED':>7} {'YES':>6} {'NO':>6} {'NONE':>6}  YES SHARE (95% CI)"
    )
    for key, row in results["questions"].items():
        interval = row["yes_interval"]
        ci = f" ({interval[0] * 100:.1f}–{interval[1] * 100:.1f}%)" if interval else ""
        text = f"{key} {tree.nodes[key].text}"[:40]
        lines.append(
            f"{text:<40} {row['reached']:>7} {row['yes']:>6} {row['no']:>6} "
            f"{row['not_answered']:>6}  {percent(row['yes_share'])}{ci}"
        )
    lines.append("")
    lines.append(f"{'OUTCOME':<40} {'REACHED':>7}  OF FINISHED")
    for key, row in results["outcomes"].items():
        text = f"{key} {tree.nodes[key].text}"[:40]
        lines.append(f"{text:<40} {row['reached']:>7}  {percent(row['share_of_finished'])}")
    if results["paths"]:
        lines.append("")
        lines.append(f"{'PATH':<40} {'READERS':>7}")
        for entry in results["paths"]:
            steps = " → ".join(
                f"{node} {answer}"
                for node, answer in zip(entry["nodes"], entry["answers"], strict=True)
            )
            lines.append(f"{steps:<40} {entry['respondents']:>7}")
    lines.append("")
    lines.append(results["note"])
    return "\n".join(lines)


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(build_command)
    app.cli.add_command(import_command)
    app.cli.add_command(polls_group)
    app.cli.add_command(results_command)
    from pollserver.tokens_cli import tokens_group

    app.cli.add_command(tokens_group)


# build reads files and prints JSON: it needs no app, database or instance folder, so it is also
# on the group itself, where Flask finds it without loading the app (and its settings).
main.add_command(build_command)
