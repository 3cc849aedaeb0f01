"""The ``pollserver`` command, one module per command group.

``init_app`` adds the commands to an app's CLI (so ``flask --app pollserver …`` and the tests'
runner know them too); ``pollserver.__main__`` is the ``pollserver`` executable itself.
"""

from __future__ import annotations

from flask import Flask

from pollserver.cli.articles import build_command, import_command
from pollserver.cli.polls import polls_group, results_command
from pollserver.cli.serve import serve_command
from pollserver.cli.tokens import tokens_group

COMMANDS = (
    serve_command,
    build_command,
    import_command,
    polls_group,
    results_command,
    tokens_group,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
