"""The Flask extensions, created unbound here and bound to an app in ``create_app``.

Keeping them module-level lets blueprints import ``db`` or ``limiter`` without importing the app.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from pollserver import rate_limit_storage  # noqa: F401  (registers the memory:// storage)
from pollserver.errors import JsonErrorApi
from pollserver.models import Base
from pollserver.rate_limits import rate_limit_key, refuse_over_limit, retry_after_response

# The models are plain SQLAlchemy (the services use them without Flask); Flask-SQLAlchemy gets
# their metadata, and with it every table. Objects stay readable after commit without a reload
# query: each request commits once and then only reads what it just wrote to build its reply.
db = SQLAlchemy(metadata=Base.metadata, session_options={"expire_on_commit": False})
migrate = Migrate()
api = JsonErrorApi()
limiter = Limiter(rate_limit_key, on_breach=refuse_over_limit, on_meta_breach=retry_after_response)
