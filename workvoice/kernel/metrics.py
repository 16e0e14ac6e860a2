"""Prometheus metrics (served at /metrics). Labels carry kinds and outcomes, never people."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPDATES = Counter("workvoice_updates_total", "Telegram updates handled", ["type"])
UPDATE_ERRORS = Counter("workvoice_update_errors_total", "Updates whose handling raised", ["type"])
DUPLICATE_UPDATES = Counter("workvoice_duplicate_updates_total", "Updates seen before and skipped")
UPDATE_LATENCY = Histogram(
    "workvoice_update_seconds",
    "Time to handle one update",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX = Counter("workvoice_outbox_total", "Outbound messages by outcome", ["kind", "outcome"])
JOB_RUNS = Counter("workvoice_job_runs_total", "Scheduler job runs", ["job", "outcome"])
DEFERRED_UPDATES = Counter(
    "workvoice_updates_deferred_total",
    "Updates kept for later because the database or Redis was out",
)
DEPENDENCY_UP = Gauge(
    "workvoice_dependency_up", "1 if the dependency answered at the last check", ["dependency"]
)
UPDATES_WAITING = Gauge(
    "workvoice_updates_waiting", "Updates stored and not yet handled (all replicas)"
)
