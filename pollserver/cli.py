"""The ``pollserver`` command: a Flask CLI group bound to the app factory."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from pollserver.config import uses_shared_limit_storage


def create_cli_app() -> Flask:
    from pollserver import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=create_cli_app, add_version_option=True)
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
@with_appcontext
def serve_command(host: str | None, port: int | None, workers: int | None, threads: int | None):
    """Migrate the database, then serve pollserver with gunicorn."""
    from flask_migrate import upgrade

    from pollserver.extensions import db
    from pollserver.server import PollserverGunicorn, choose_worker_count, gunicorn_options

    config = current_app.config
    try:
        worker_count = choose_worker_count(
            workers if workers is not None else config["POLLSERVER_WORKERS"],
            uses_shared_limit_storage(config),
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    upgrade()
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
    PollserverGunicorn(options).run()


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
