"""The moderation desk at /admin: one blueprint (``blueprint``), its pages in a module per area.

Every editorial task works here without a terminal: bringing in articles, editing and
previewing polls, versions, the schedule and settings, watching and moderating answers,
exports, tokens and the audit log.
"""

from __future__ import annotations

from flask import Flask

# isort: off
# Each module's routes join the blueprint on import.
from pollserver.pages.moderation.blueprint import RequestAwareSessionInterface, bp
from pollserver.pages.moderation import audit, polls, editor, articles, tokens  # noqa: F401

# isort: on


def init_app(app: Flask) -> None:
    app.session_interface = RequestAwareSessionInterface()
    # The session exists only for the moderation page: browsers need not send it anywhere else.
    if app.config.get("SESSION_COOKIE_PATH") is None:
        app.config["SESSION_COOKIE_PATH"] = bp.url_prefix
    app.register_blueprint(bp)
