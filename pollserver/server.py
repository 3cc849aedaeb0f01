"""Run pollserver under gunicorn from Python, so ``pollserver serve`` needs no extra config file."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from prometheus_client import multiprocess

from pollserver.metrics import MULTIPROCESS_ENV

# No client address (%(h)s), no user agent (%(a)s), no query string:
# see the README's Privacy section.
INVALID_REQUEST_WARNING = "Invalid request from ip="
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def choose_worker_count(requested: int, shared_limit_storage: bool, limits_enabled: bool) -> int:
    """Workers to run: 1 on in-memory limits (they must hold across the service), else as asked.

    Raises ValueError when more than one process is asked for with in-memory limits, because each
    process would count separately and a reader could exceed every limit by that factor.
    """
    if not shared_limit_storage:
        if requested > 1 and limits_enabled:
            raise ValueError(
                f"{requested} workers need shared rate-limit storage: set "
                "RATELIMIT_STORAGE_URI=redis://… or run one worker (threads serve concurrency)"
            )
        return max(requested, 1)
    if requested:
        return requested
    return 2 * (os.cpu_count() or 1)


class PollserverGunicorn(BaseApplication):
    """gunicorn serving the apps ``create_app`` builds: one per worker, after the fork."""

    def __init__(self, options: dict[str, Any], create_app: Callable[[], Flask]):
        self.options = options
        self.create_app = create_app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        # Each worker builds its own app (and database pool) after the fork.
        return self.create_app()


class PrivateLogger(Logger):
    """gunicorn's logger, without what pollserver promises never to log (the README's Privacy).

    gunicorn's own warning about a malformed request names the client's address and echoes the
    request ("Invalid request from ip=…: Invalid Request Line 'GET /?…'"), and its report of a
    request that failed names the URI with its query string. The access log's format already
    leaves all of these out (ACCESS_LOG_FORMAT); these two lines are the rest.
    """

    def warning(self, msg, *args, **kwargs):
        if str(msg).startswith(INVALID_REQUEST_WARNING):
            msg, args = (
                "A malformed request was refused (its client and content are not logged)",
                (),
            )
        super().warning(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        args = tuple(arg.split("?", 1)[0] if isinstance(arg, str) else arg for arg in args)
        super().exception(msg, *args, **kwargs)


def gunicorn_options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "logger_class": PrivateLogger,
        "loglevel": "info",
        # gunicorn itself trusts no forwarding headers (X-Forwarded-Proto, SCRIPT_NAME) from
        # anyone: ProxyFix, configured by TRUSTED_PROXY_COUNT, is the one place that decides.
        "forwarded_allow_ips": "",
        "proc_name": "pollserver",
        # gunicorn 27's control socket sits at one path per user (~/.gunicorn/gunicorn.ctl),
        # shared by every server that user runs on the host; pollserver has no use for it.
        "control_socket_disable": True,
        "child_exit": forget_dead_worker_metrics,
    }


def forget_dead_worker_metrics(server, worker) -> None:
    """A worker that exited (or was killed) must stop counting in live gauges."""
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.mark_process_dead(worker.pid)
