"""The JSON API under /api/v1: one flask-smorest blueprint per area."""

from __future__ import annotations

from flask import Flask

from pollserver.api import admin, openapi_document, public
from pollserver.extensions import api


def init_app(app: Flask) -> None:
    openapi_document.describe(api)
    api.register_blueprint(public.blp)
    api.register_blueprint(admin.blp)
