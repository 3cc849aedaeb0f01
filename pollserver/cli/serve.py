"""``pollserver serve``: migrate, seed an empty database, then serve with Granian."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import click
import prometheus_client.values
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import exists, select

from pollserver.cli.articles import import_paths
from pollserver.config import default_public_url, uses_shared_limit_storage
from pollserver.core.lifecycle import PollStatus
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.metrics import MULTIPROCESS_ENV
from pollserver.models import Article
from pollserver.rate_limit_storage import redis_client_for
from pollserver.server import ServeOptions, choose_worker_count, serve
from pollserver.services.moderation.audit import CLI_ACTOR
from pollserver.services.moderation.polls import transition_poll

PUBLIC_URL_ENV = "POLLSERVER_PUBLIC_URL"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@click.command("serve", short_help="Migrate, seed an empty database, then serve.")
@click.option("--host", default=None, help="Address to listen on [env POLLSERVER_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env POLLSERVER_PORT, 8000].")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes [env POLLSERVER_WORKERS; 1 on in-memory limits, 1 per core on Redis].",
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
    """Migrate the database (and seed an empty one), then serve pollserver with Granian."""
    config = current_app.config
    try:
        worker_count = choose_worker_count(
            workers if workers is not None else config["POLLSERVER_WORKERS"],
            uses_shared_limit_storage(config),
            bool(config["RATELIMIT_ENABLED"]),
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    if worker_count > 1:
        prepare_shared_metrics(Path(current_app.instance_path) / "metrics")
        if redis_client_for(config["RATELIMIT_STORAGE_URI"]) is None:
            # Without Redis (limits off, or on memcached or MongoDB) the salt is per process.
            click.echo(
                f"pollserver: {worker_count} workers without Redis hash addresses with a salt "
                "each, so the daily cap of new readers counts per worker: set "
                "RATELIMIT_STORAGE_URI=redis://… to share it",
                err=True,
            )
    # One worker reports itself whole from memory. Files shared by processes cost each request
    # about 0.2 ms of CPU under 8 threads (prometheus_client takes one process-wide lock per
    # value written, and the threads queue on it: bench/RESULTS.md), so only several pay it.
    upgrade()
    if seed:
        seeds = config["POLLSERVER_SEEDS_DIR"]
        seed_empty_database(Path(seeds) if seeds else None)
    # The master process must not hand its open connections to forked workers.
    db.session.remove()
    db.engine.dispose()

    options = ServeOptions(
        host=host or config["POLLSERVER_HOST"],
        port=port or config["POLLSERVER_PORT"],
        workers=worker_count,
        threads=threads or config["POLLSERVER_THREADS"],
        read_seconds=config["POLLSERVER_READ_SECONDS"],
        max_body_bytes=config["MAX_CONTENT_LENGTH"],
    )
    if not os.environ.get(PUBLIC_URL_ENV):
        # The workers build their apps from the environment: they link to where this serves.
        os.environ[PUBLIC_URL_ENV] = default_public_url(options.host, options.port)
        if options.host not in LOOPBACK_HOSTS:
            click.echo(
                f"pollserver: links and snippets name {os.environ[PUBLIC_URL_ENV]}; set "
                f"{PUBLIC_URL_ENV} to the address readers reach this server at",
                err=True,
            )
    click.echo(
        f"pollserver: serving on http://{options.bind} with {worker_count} worker(s)"
        f" × {options.threads} threads",
        err=True,
    )
    # Freeze what this process built before the workers are forked: their collections then
    # never walk (and copy) those objects, nor run their finalizers while a quit signal is pending.
    gc.collect()
    gc.freeze()
    serve(options, app_factory())


def prepare_shared_metrics(folder: Path) -> None:
    """Let every worker write its metrics where any worker can report them all."""
    shutil.rmtree(folder, ignore_errors=True)  # numbers of a previous run are not this run's
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    # prometheus_client picks its value storage when first imported (here, before the variable
    # was set); workers create their metrics after the fork, so pick again now.
    prometheus_client.values.ValueClass = prometheus_client.values.get_value_class()


def seed_empty_database(seeds_dir: Path | None) -> None:
    """Give a newcomer live polls at once: import the sample articles and open their polls."""
    if db.session.scalar(select(exists().select_from(Article))):
        return
    if seeds_dir is None or not seeds_dir.is_dir():
        where = f" at {seeds_dir}" if seeds_dir else ""
        click.echo(
            f"pollserver: no sample articles{where} (POLLSERVER_SEEDS_DIR names a folder of "
            "articles to seed an empty database); starting empty",
            err=True,
        )
        return
    outcomes = import_paths([str(seeds_dir)], progress=False)
    begin_write_transaction()
    opened = 0
    for outcome in outcomes:
        for poll in outcome.polls:
            poll = db.session.merge(poll)
            if poll.status is PollStatus.DRAFT:
                transition_poll(db.session, poll, PollStatus.OPEN, CLI_ACTOR)  # audited
                opened += 1
    db.session.commit()
    click.echo(f"pollserver: imported {seeds_dir} and opened {opened} poll(s)", err=True)


def app_factory() -> Callable[[], Flask]:
    """How each worker builds an app of its own after the fork: as this command's app was built
    (the ``pollserver`` executable's factory, or ``flask --app``'s import path), so that each
    reads the environment this process prepared (the shared metrics folder among it)."""
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None and info.create_app is not None:
        return info.create_app
    import_path = info.app_import_path if info is not None else None
    return lambda: ScriptInfo(app_import_path=import_path).load_app()
