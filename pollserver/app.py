"""The application factory: settings, extensions, blueprints, in that order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from pollserver import (
    api,
    cli,
    database,
    error_handlers,
    health,
    metrics,
    pages,
    response_headers,
)
from pollserver.compression import compress_response
from pollserver.config import (
    default_public_url,
    load_or_create_secret_key,
    settings_from_environment,
    shipped_folder,
)
from pollserver.database import engine_options_for
from pollserver.extensions import api as openapi
from pollserver.extensions import db, limiter, migrate
from pollserver.fast_lane import FastLane
from pollserver.rate_limits import make_shared_state
from pollserver.request_json import BoundedJSONProvider


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create and configure a pollserver app.

    ``config`` overrides settings read from the environment (tests pass their database here).
    """
    instance_path = os.environ.get("POLLSERVER_INSTANCE_PATH")
    app = Flask(
        "pollserver",
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(
        API_TITLE="pollserver",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: a link to the desk from another site (a chat, a mail) must find the
        # editor signed in; under Strict the browser held the cookie back, the desk answered
        # "sign in" and that page's new cookie signed them out. Cross-site POSTs still carry no
        # cookie, and every form checks its CSRF token; no GET on the desk changes anything.
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_mapping(settings_from_environment(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)
    app.json = BoundedJSONProvider(app)  # request bodies nested too deep are invalid JSON
    app.json.sort_keys = False  # keep documents in the order their schemas give
    if not app.config["POLLSERVER_PUBLIC_URL"]:
        # Links, snippets and oEmbed name this, never a request's Host (which anyone can forge).
        app.config["POLLSERVER_PUBLIC_URL"] = default_public_url(
            app.config["POLLSERVER_HOST"], app.config["POLLSERVER_PORT"]
        )
    # Generated clients take their default base URL from here.
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {"servers": [{"url": app.config["POLLSERVER_PUBLIC_URL"].rstrip("/")}]},
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret_key(Path(app.instance_path))
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options_for(app.config["SQLALCHEMY_DATABASE_URI"])
    )

    # The requests every reader makes skip Flask's request cycle (pollserver.fast_lane); inside
    # ProxyFix, so that they see the same client address as the views.
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        # Only behind proxies the operator vouches for may X-Forwarded-For name the client.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(shipped_folder("migrations")),
        render_as_batch=True,
        compare_type=True,
    )
    limiter.init_app(app)
    # flask-limiter keeps the first app's RATELIMIT_KEY_PREFIX for good; each app (tests make
    # many in one process, against one Redis) must count under its own.
    limiter._key_prefix = app.config.get("RATELIMIT_KEY_PREFIX", "")
    openapi.init_app(app)
    error_handlers.init_app(app)
    response_headers.init_app(app)
    app.after_request(compress_response)
    metrics.init_app(app, limiter)
    make_shared_state(app)

    app.register_blueprint(health.bp)
    api.init_app(app)
    pages.init_app(app)
    cli.init_app(app)
    return app
