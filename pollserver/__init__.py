"""pollserver: reader polls built from the yes/no flowcharts in news articles.

The package is layered (see the README's "Layout"): ``core`` holds the pure rules, ``services``
the application over a database session, and ``api``, ``pages`` and ``cli`` are thin entrypoints;
``create_app`` (in ``pollserver.app``) assembles them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pollserver.app import create_app as create_app

try:
    __version__ = version("pollserver")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    # ``from pollserver import create_app`` (Flask's convention) without importing Flask, the
    # database and every blueprint whenever a pure ``pollserver.core`` module is imported.
    if name == "create_app":
        from pollserver.app import create_app

        return create_app
    raise AttributeError(f"module 'pollserver' has no attribute {name!r}")
