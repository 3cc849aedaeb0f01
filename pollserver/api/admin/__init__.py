"""The moderation API under /api/v1/admin: Bearer tokens, three roles, never CORS-open.

Every view declares the permission it needs with ``requires`` (``blueprint``); the blueprint's
``before_request`` hook (``auth.authorize_bearer_request``) refuses a missing, unknown or revoked
token (401) and a role without that permission (403) before the view runs. Refused tokens count
towards a per-address limit (``RATELIMIT_AUTH_FAILURES``). The rules themselves live in
``pollserver.services``; views load, call and return documents (``documents``, ``schemas``).
One blueprint, routes in a module per resource, as microblog's ``app/api``.
"""

from __future__ import annotations

from pollserver.api.admin.blueprint import blp

# The routes of each module join the blueprint on import, and the OpenAPI document lists them
# in that order: kept as it was when they shared one module.
# isort: off
from pollserver.api.admin import me  # noqa: F401
from pollserver.api.admin import polls  # noqa: F401
from pollserver.api.admin import responses  # noqa: F401
from pollserver.api.admin import articles  # noqa: F401
from pollserver.api.admin import audit  # noqa: F401
from pollserver.api.admin import tokens  # noqa: F401
# isort: on

__all__ = ["blp"]
