"""Prometheus metrics: the definitions and one tiny helper per hook.

The hooks live where the facts are already known: ``observe_request`` in
the API middleware (next to the one log line per call), ``observe_upstream``
in the shared HTTP layer (``providers.http.HttpClient``), ``observe_sync_round``
in the sync service. ``count_budget_refusal`` and ``count_webhook_delivery``
are defined for the budget and webhook services to call.

Multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set before this
module is first imported (the server start sets it, under
``FTPROXY_VAR_DIR``, emptied at each start), every process (each server
worker, the sync watcher) writes its samples to files there and
``render`` adds them up, so a scrape sees the whole server whichever worker
answers it. Without it (tests, ``manage.py`` alone) the samples live in this
process's default registry.

This module imports nothing of ftproxy, so every layer (providers included)
may use it. Gauges read from the ledger at scrape time are the API's
business (``api.metrics``), not this module's.
"""

from __future__ import annotations

import os

import prometheus_client
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

#: The environment variable prometheus_client reads for multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# ``*_created`` series double the output and no dashboard uses them.
prometheus_client.disable_created_metrics()
if os.environ.get(MULTIPROC_ENV):
    # A samples directory removed under a running shell must not turn every
    # counted request into an error.
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

#: Request durations span a cached list (ms) to a large upload (minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

REQUESTS = Counter(
    "ftproxy_requests",
    "API calls answered, by action (files.create, fine_tuning.jobs.retrieve, …), "
    "provider entry and HTTP status.",
    ["action", "provider", "status"],
)
REQUEST_DURATION = Histogram(
    "ftproxy_request_duration_seconds",
    "Time to answer an API call, by action.",
    ["action"],
    buckets=DURATION_BUCKETS,
)
UPSTREAM_REQUESTS = Counter(
    "ftproxy_upstream_requests",
    "HTTP requests to providers (after the session's own retries), by provider entry and "
    "HTTP status ('error' when no answer came: timeout, connection failure).",
    ["provider", "status"],
)
UPSTREAM_DURATION = Histogram(
    "ftproxy_upstream_duration_seconds",
    "Time of one HTTP request to a provider until its headers arrived, retries included.",
    ["provider"],
    buckets=DURATION_BUCKETS,
)
SYNC_ROUNDS = Counter("ftproxy_sync_rounds", "Job sync rounds completed.")
SYNC_FAILURES = Counter("ftproxy_sync_failures", "Jobs whose sync failed, over all rounds.")
#: Counted by ``services.accounts.budgets.refuse`` (budget and job-quota refusals).
BUDGET_REFUSALS = Counter(
    "ftproxy_budget_refusals",
    "Job creates refused by a key's budget or job quota, by error code.",
    ["code"],
)
#: Counted by ``services.accounts.webhooks.record_outcome``.
WEBHOOK_DELIVERIES = Counter(
    "ftproxy_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retrying, failed).",
    ["outcome"],
)


def observe_request(action: str, provider: str, status: int, seconds: float) -> None:
    """One API call answered (the middleware's hook)."""
    action = action or "unknown"
    REQUESTS.labels(action, provider or "none", str(status)).inc()
    REQUEST_DURATION.labels(action).observe(seconds)


def observe_upstream(provider: str, status: int | str, seconds: float) -> None:
    """One HTTP request to a provider (the HTTP layer's hook)."""
    UPSTREAM_REQUESTS.labels(provider, str(status)).inc()
    UPSTREAM_DURATION.labels(provider).observe(seconds)


def observe_sync_round(failed: int) -> None:
    """One sync round finished, with ``failed`` jobs that could not be synced."""
    SYNC_ROUNDS.inc()
    if failed:
        SYNC_FAILURES.inc(failed)


def count_budget_refusal(code: str) -> None:
    """A request refused by a budget (``code`` as in the error envelope)."""
    BUDGET_REFUSALS.labels(code).inc()


def count_webhook_delivery(outcome: str) -> None:
    """One webhook delivery attempt and how it ended."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()


def multiprocess_dir() -> str | None:
    """The shared samples directory when multiprocess mode is on."""
    return os.environ.get(MULTIPROC_ENV) or None


def render(*extra: CollectorRegistry) -> bytes:
    """The text exposition of every process's samples (multiprocess mode)
    or of this process's, followed by ``extra`` registries'."""
    directory = multiprocess_dir()
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return b"".join(generate_latest(r) for r in (registry, *extra))


__all__ = [
    "CONTENT_TYPE_LATEST",
    "count_budget_refusal",
    "count_webhook_delivery",
    "observe_request",
    "observe_sync_round",
    "observe_upstream",
    "render",
]
