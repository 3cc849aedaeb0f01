"""Run pollserver under Granian from Python, so ``pollserver serve`` needs no extra config file.

Granian was chosen by measurement (bench/RESULTS.md, issue 16): a request costs less than half
the CPU it did on gunicorn, and Granian reads headers off Python's threads, within a deadline.
The app is served through its RSGI interface by ``WsgiOverRsgi``, which also reads each body
on the event loop before a thread takes the request, so that slow clients hold no thread.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from flask import Flask
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.server import Server
from prometheus_client import multiprocess

from pollserver.metrics import MULTIPROCESS_ENV
from pollserver.wsgi_over_rsgi import WsgiOverRsgi

LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "generic": {
            "()": "logging.Formatter",
            "fmt": "[%(asctime)s] [%(levelname)s] %(message)s",
            "datefmt": "%Y-%m-%d %H:%M:%S %z",
        },
    },
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler"},
    },
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# How long a worker that will not stop gracefully is given before it is killed.
WORKER_STOP_SECONDS = 10
# prometheus_client's files of a process: e.g. gauge_livesum_1234.db
METRICS_FILE_PID = re.compile(r"_(\d+)\.db$")


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    threads: int
    # The most time a client has to send a request's headers, and then its body.
    read_seconds: int
    max_body_bytes: int

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"


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
    # One per core: Granian's I/O runs outside Python, so more processes than cores only add
    # contention (PostgreSQL + Redis on 2 cores: 2 workers answered as fast as 4, p99 80 ms
    # against 121 ms).
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its affinity, as a container or taskset sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def serve(options: ServeOptions, create_app: Callable[[], Flask]) -> None:
    """Serve until Ctrl-C or SIGTERM; each worker builds its own app (and pool) after the fork.

    A worker that dies (even by SIGKILL) is replaced; the rest go on serving meanwhile.
    """
    # The workers are forked so that they inherit ``create_app`` (a closure need not be
    # importable). Python 3.14 would pick forkserver, which Granian turns into spawn.
    multiprocessing.set_start_method("fork", force=True)
    server = Server(
        "pollserver",  # a label only: the worker's app comes from target_loader below
        address=options.host,
        port=options.port,
        interface=Interfaces.RSGI,
        workers=options.workers,
        loop=event_loop(),
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=options.read_seconds * 1000),
        log_dictconfig=LOG_CONFIG,
        # The access log is WsgiOverRsgi's (no address, user agent or query string).
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=WORKER_STOP_SECONDS,
    )
    server.serve(target_loader=partial(worker_app, options, create_app), wrap_loader=False)


def event_loop() -> Loops:
    """uvloop where it is installed (a dependency on Linux and macOS: the event loop reads every
    request's body and hands it to a thread, and uvloop's costs less per request); else asyncio.
    Named, not "auto", which would prefer any rloop that happens to be installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return Loops.asyncio
    return Loops.uvloop


def worker_app(options: ServeOptions, create_app: Callable[[], Flask]) -> WsgiOverRsgi:
    """What each worker serves, built in the worker."""
    forget_dead_workers_metrics()
    return WsgiOverRsgi(
        create_app(),
        threads=options.threads,
        body_timeout=options.read_seconds,
        max_body_bytes=options.max_body_bytes,
        access_log=sys.stderr,
    )


def forget_dead_workers_metrics() -> None:
    """A worker that exited (or was killed) must stop counting in live gauges.

    Granian has no hook in the parent for a worker's death, so each new worker (the one that
    replaces it among them) clears the live gauges of every process that is gone.
    """
    folder = os.environ.get(MULTIPROCESS_ENV)
    if not folder:
        return
    for path in Path(folder).glob("*_*.db"):
        match = METRICS_FILE_PID.search(path.name)
        if match and not process_exists(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), folder)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
