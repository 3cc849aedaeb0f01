"""Server-rendered pages: the embed, share and oEmbed surface with the demo article pages
(``embed``, ``demo``: one blueprint), and the moderation desk at ``/admin`` (``moderation``)."""

from __future__ import annotations

from flask import Flask

from pollserver.pages import (
    demo,  # noqa: F401  (its routes join embed's blueprint on import)
    embed,
    moderation,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(embed.bp)
    moderation.init_app(app)
