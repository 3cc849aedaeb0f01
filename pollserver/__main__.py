"""The ``pollserver`` executable (also ``python -m pollserver``): a Flask CLI group bound to the
app factory. The commands themselves live in ``pollserver.cli``, one module per group.

``pollserver --help`` lists pollserver's own commands first, without loading the app; Flask's
development server, shell and route list wait under ``pollserver dev``. A bad setting (or an
instance folder that cannot be made) stops a command with one line and exit status 2; a database
problem is one line too, never a traceback.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import (
    FlaskGroup,
    NoAppException,
    ScriptInfo,
    routes_command,
    run_command,
    shell_command,
)
from flask_migrate.cli import db as migrations_group
from flask_smorest.spec import openapi_cli as openapi_group
from sqlalchemy.exc import OperationalError, ProgrammingError

from pollserver import __version__
from pollserver.app import create_app
from pollserver.cli import COMMANDS
from pollserver.config import ConfigError

CONFIG_ERROR_EXIT_STATUS = 2
# The order `pollserver --help` lists commands in: what an operator runs first, first.
COMMAND_ORDER = ("serve", "import", "build", "polls", "results", "tokens", "db", "openapi", "dev")
# Commands that need no app, hence no settings: build reads files and prints JSON.
APP_FREE_COMMANDS = {"build"}


class ConfigurationError(click.ClickException):
    exit_code = CONFIG_ERROR_EXIT_STATUS


def create_cli_app() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        # A bad setting is the operator's to fix: say which, not where in our code it was read.
        raise NoAppException(f"configuration: {error}") from None
    except OSError as error:  # the instance folder (database, secret key) cannot be made
        raise NoAppException(
            f"instance folder {error.filename}: {error.strerror} (see POLLSERVER_INSTANCE_PATH)"
        ) from None


class PollserverGroup(FlaskGroup):
    """The command group; bad settings and database problems become one-line messages."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Every command is the group's own, so listing them needs no app (Flask's group would
        # build one, with its instance folder and secret key, just to print the help).
        self._load_plugin_commands()
        names = set(self.commands)
        return [name for name in COMMAND_ORDER if name in names] + sorted(
            names.difference(COMMAND_ORDER)
        )

    def resolve_command(self, ctx: click.Context, args: list[str]):
        # Flask's group would print the settings error and then report the command as unknown,
        # or a command would fail in its middle; load the app first, so that a bad setting is
        # the one thing said.
        name = click.utils.make_str(args[0]) if args else None
        if name is not None and name not in APP_FREE_COMMANDS:
            try:
                ctx.ensure_object(ScriptInfo).load_app()
            except NoAppException as error:
                raise ConfigurationError(error.format_message()) from None
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise click.ClickException(
                f"database error: {reason}. If the schema is missing or old, run: "
                "pollserver db upgrade"
            ) from None


@click.group(
    cls=PollserverGroup,
    create_app=create_cli_app,
    add_default_commands=False,
    add_version_option=False,
)
@click.version_option(__version__, "--version", prog_name="pollserver")
def main() -> None:
    """pollserver: reader polls built from the yes/no flowcharts in news articles."""


@main.group("dev", short_help="Flask's debug server, shell and route list.")
def development_group() -> None:
    """Development tools: Flask's debug server, a shell in the app, the route list."""


development_group.add_command(run_command)
development_group.add_command(shell_command)
development_group.add_command(routes_command)

# The app's CLI has the same commands (``pollserver.cli.init_app``); on the group they are found
# without building an app first. Flask-Migrate and flask-smorest add theirs to each app.
for command in COMMANDS:
    main.add_command(command)
main.add_command(migrations_group, "db")
main.add_command(openapi_group, "openapi")


if __name__ == "__main__":
    main(prog_name="pollserver")
