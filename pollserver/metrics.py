"""Prometheus metrics at ``/metrics``: requests and latency by endpoint, plus pollserver's own
counters.

Under ``pollserver serve`` every worker writes its numbers to files in a shared folder
(``PROMETHEUS_MULTIPROC_DIR``, set up by the command), and a scrape of any worker reports the
whole service. Each app gets its own registry so several apps in one process (tests) never
collide. ``/metrics`` is never CORS-open; with ``METRICS_TOKEN`` set it needs that bearer token.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder

from pollserver.errors import json_error

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class PollserverMetrics:
    """The metrics of one app, reachable as ``app.extensions["pollserver-metrics"]``."""

    def __init__(self, registry: CollectorRegistry):
        # Grouped by endpoint, not path: poll ids in paths would make a time series per poll.
        # (The names and labels prometheus-flask-exporter gave them, so dashboards keep working.)
        self.request_duration = Histogram(
            "pollserver_http_request_duration_seconds",
            "HTTP request duration in seconds, by endpoint",
            ["method", "endpoint", "status"],
            registry=registry,
        )
        self.requests = Counter(
            "pollserver_http_request",
            "Total number of HTTP requests",
            ["method", "status"],
            registry=registry,
        )
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


# What pollserver_rate_limited_total{limit=…} names, each present from the start at 0 (a
# dashboard's rate() needs the series before the first 429): RATELIMIT_ANSWERS, RATELIMIT_PUBLIC,
# RATELIMIT_AUTH_FAILURES, the daily cap (where no work is asked), proof of work asked, and
# flask-limiter's application-wide and default limits.
RATE_LIMIT_NAMES = (
    "answers",
    "public",
    "auth_failures",
    "respondents_per_address_per_day",
    "proof_of_work",
    "application",
    "default",
)
# What pollserver_answers_recorded_total{kind=…} counts, each present from the start at 0.
ANSWER_KINDS = ("new_reader", "next", "changed")
# The endpoint label of a request no route matched (Flask's request.endpoint is None).
UNROUTED = "unrouted"


def metrics_of(app: Flask | None = None) -> PollserverMetrics | None:
    return (app or current_app).extensions.get("pollserver-metrics")


def count_rate_limited(limit: str) -> None:
    """Count a 429 under the name of the limit that refused it (one of RATE_LIMIT_NAMES)."""
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


def observe_request(
    metrics: PollserverMetrics, method: str, endpoint: str | None, status: int, started: float
) -> None:
    """Count one request and its duration (``started``: its ``time.perf_counter()``)."""
    status_label = str(status)
    metrics.request_duration.labels(method, endpoint or UNROUTED, status_label).observe(
        max(time.perf_counter() - started, 0.0)
    )
    metrics.requests.labels(method, status_label).inc()


# Not counted: the scrape itself, and the liveness probe an orchestrator sends every few seconds.
UNCOUNTED_PATHS = frozenset({"/metrics", "/livez"})


def expose_metrics(registry: CollectorRegistry) -> Response:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return json_error(401, "Metrics need the METRICS_TOKEN bearer token.")
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    # Prometheus' text format, or OpenMetrics when the scraper asks for it (Accept). The type
    # given whole, as Content-Type: as a mimetype, Flask added a second charset, and Prometheus
    # logged "mime: duplicate parameter name" on every scrape.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    # Prometheus' text or OpenMetrics, as the scraper's Accept asks.
    return Response(encoder(registry), headers={"Content-Type": content_type, "Vary": "Accept"})


def init_app(app: Flask, limiter: Limiter) -> None:
    """Serve ``/metrics`` (never rate limited) and report when ``limiter`` runs on its fallback."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = PollserverMetrics(registry)
    metrics.limiter_fallback_active.set(0)
    for name in RATE_LIMIT_NAMES:
        metrics.rate_limited.labels(limit=name)
    for kind in ANSWER_KINDS:
        metrics.answers_recorded.labels(kind=kind)
    app.extensions["pollserver-metrics"] = metrics

    @app.get("/metrics")
    @limiter.exempt
    def prometheus_metrics():
        return expose_metrics(registry)

    @app.before_request
    def start_request_clock():
        g.request_started = time.perf_counter()

    @app.after_request
    def count_request(response):
        started = g.get("request_started")
        if started is not None and request.path not in UNCOUNTED_PATHS:
            observe_request(
                metrics, request.method, request.endpoint, response.status_code, started
            )
        return response

    fallback_reported: list[int] = [0]  # this process's last value: write the gauge on change

    @app.after_request
    def report_limiter_fallback(response):
        # flask-limiter keeps no public flag for its fallback; its private one is the truth.
        active = 1 if getattr(limiter, "_storage_dead", False) else 0
        if active != fallback_reported[0]:
            metrics.limiter_fallback_active.set(active)
            fallback_reported[0] = active
        return response
