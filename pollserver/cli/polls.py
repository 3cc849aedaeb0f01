"""``pollserver polls …`` (list, open, pause, close, archive) and ``pollserver results``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from pollserver.core.lifecycle import PollStatus
from pollserver.core.refusals import Refused
from pollserver.core.tree import PollTree
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.loaders import record_due_schedules
from pollserver.models import Poll
from pollserver.results_cache import compute_results, tree_of
from pollserver.services.moderation.audit import CLI_ACTOR
from pollserver.services.moderation.polls import transition_poll
from pollserver.services.polls import find_poll


@click.group("polls")
def polls_group() -> None:
    """List polls and move them through their lifecycle."""


@polls_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def polls_list_command(as_json: bool) -> None:
    """Every poll version with its status and article (versions share their poll's id)."""
    record_due_schedules()
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


VERSION_OPTION = click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help="Which version of the poll [default: the newest].",
)


def find_poll_or_fail(poll_id: str, version: int | None, **lock: bool) -> Poll:
    poll = find_poll(db.session, poll_id, version, **lock)
    if poll is None:
        which = f"poll {poll_id!r}" + (f" version {version}" if version else "")
        raise click.ClickException(f"no {which} (pollserver polls list shows them)")
    return poll


def _lifecycle_command(name: str, target: PollStatus, verb: str):
    @click.argument("poll_id")
    @VERSION_OPTION
    @with_appcontext
    def command(poll_id: str, version: int | None) -> None:
        begin_write_transaction()
        poll = find_poll_or_fail(poll_id, version, for_update=True)
        try:
            # The same rules and audit record as the moderation API; the actor is the shell.
            transition_poll(db.session, poll, target, CLI_ACTOR)
        except Refused as error:
            raise click.ClickException(error.message) from None
        db.session.commit()
        click.echo(f"poll {poll.public_id} version {poll.version} is now {poll.status}")

    command.__doc__ = f"{verb} a poll (its newest version unless --version says)."
    return click.command(name)(command)


for _name, _target, _verb in (
    ("open", PollStatus.OPEN, "Open (or reopen)"),
    ("pause", PollStatus.PAUSED, "Pause"),
    ("close", PollStatus.CLOSED, "Close"),
    ("archive", PollStatus.ARCHIVED, "Archive"),
):
    polls_group.add_command(_lifecycle_command(_name, _target, _verb))


@click.command("results", short_help="A poll's results, whatever its visibility.")
@click.argument("poll_id")
@VERSION_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON document.")
@with_appcontext
def results_command(poll_id: str, version: int | None, as_json: bool) -> None:
    """Aggregate results of a poll version, whatever its visibility (the same numbers as the
    API); the newest version unless --version says."""
    poll = find_poll_or_fail(poll_id, version)
    results = compute_results(poll)
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    click.echo(format_results(poll, tree_of(poll), results))


def percent(share: float | None) -> str:
    return "   –  " if share is None else f"{share * 100:5.1f}%"


def format_results(poll: Poll, tree: PollTree, results: dict) -> str:
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
