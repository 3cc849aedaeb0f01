"""Prometheus metrics at ``/metrics``: requests and latency by endpoint (prometheus-flask-exporter)
plus pollserver's own counters.

Under ``pollserver serve`` every worker writes its numbers to files in a shared folder
(``PROMETHEUS_MULTIPROC_DIR``, set up by the command), and a scrape of any worker reports the
whole service. Each app gets its own registry so several apps in one process (tests) never
collide. ``/metrics`` is never CORS-open; with ``METRICS_TOKEN`` set it needs that bearer token.
"""

from __future__ import annotations

import hmac
import os

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_flask_exporter import PrometheusMetrics

from pollserver.errors import json_error

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class PollserverMetrics:
    """The metrics of one app, reachable as ``app.extensions["pollserver-metrics"]``."""

    def __init__(self, registry: CollectorRegistry):
        self.answers_recorded = Counter(
            "pollserver_answers_recorded_total",
            "Answers stored (retries that change nothing are not counted)",
            ["kind"],  # new_reader, next, changed
            registry=registry,
        )
        self.rate_limited = Counter(
            "pollserver_rate_limited_total",
            "Requests refused with 429, by the limit that refused them",
            ["limit"],
            registry=registry,
        )
        self.limiter_fallback_active = Gauge(
            "pollserver_limiter_fallback_active",
            "1 while rate limits run on in-process memory because their storage is unreachable",
            registry=registry,
            multiprocess_mode="livemax",  # a dead worker's value goes with it
        )
        self.answer_batch_size = Histogram(
            "pollserver_answer_batch_size",
            "Answers written per transaction (answers arriving together share one)",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=registry,
        )
        self.database_errors = Counter(
            "pollserver_database_errors_total",
            "Requests that met an unreachable or failing database",
            registry=registry,
        )


def metrics_of(app: Flask | None = None) -> PollserverMetrics | None:
    return (app or current_app).extensions.get("pollserver-metrics")


def count_rate_limited(limit: str) -> None:
    metrics = metrics_of()
    if metrics:
        metrics.rate_limited.labels(limit=limit).inc()


def count_database_error() -> None:
    metrics = metrics_of()
    if metrics:
        metrics.database_errors.inc()


def count_answer(kind: str) -> None:
    metrics = metrics_of()
    if metrics:
        metrics.answers_recorded.labels(kind=kind).inc()


def expose_metrics(registry: CollectorRegistry) -> Response:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return json_error(401, "Metrics need the METRICS_TOKEN bearer token.")
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask, limiter: Limiter) -> None:
    """Serve ``/metrics`` (never rate limited) and report when ``limiter`` runs on its fallback."""
    registry = CollectorRegistry(auto_describe=True)
    # Grouped by endpoint, not path: poll ids in paths would make a time series per poll.
    PrometheusMetrics(
        app,
        path=None,
        registry=registry,
        group_by="endpoint",
        defaults_prefix="pollserver",
        excluded_paths=["^/metrics$", "^/livez$"],
    )
    metrics = PollserverMetrics(registry)
    metrics.limiter_fallback_active.set(0)
    app.extensions["pollserver-metrics"] = metrics

    @app.get("/metrics")
    @limiter.exempt
    def prometheus_metrics():
        return expose_metrics(registry)

    fallback_reported: list[int] = [0]  # this process's last value: write the gauge on change

    @app.after_request
    def report_limiter_fallback(response):
        # flask-limiter keeps no public flag for its fallback; its private one is the truth.
        active = 1 if getattr(limiter, "_storage_dead", False) else 0
        if active != fallback_reported[0]:
            metrics.limiter_fallback_active.set(active)
            fallback_reported[0] = active
        return response
