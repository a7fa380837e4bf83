"""``GET /metrics``: Prometheus text format, for the master key only.

The counters and histograms come from ``ftproxy.metrics`` (all processes'
samples in multiprocess mode); the ledger gauges are read here, at scrape
time, with one ``GROUP BY`` each: ``ftproxy_jobs{provider,status}`` and
the last sync round's time.
"""

from __future__ import annotations

from django.db.models import Count, Max
from django.http import HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from .. import metrics
from ..models import FineTuningJob, LedgerState, SyncRound
from .authentication import InvalidApiKey
from .base import GatewayView
from .schema import operation


class LedgerCollector:
    """Gauges computed from the ledger when scraped (never stored)."""

    def collect(self):
        jobs = GaugeMetricFamily(
            "ftproxy_jobs",
            "Fine-tuning jobs in the ledger, by provider entry and status.",
            labels=["provider", "status"],
        )
        rows = (
            FineTuningJob.objects.filter(ledger_state=LedgerState.OK)
            .values("provider", "status")
            .annotate(n=Count("id"))
            .order_by("provider", "status")
        )
        for row in rows:
            jobs.add_metric([row["provider"], row["status"] or "unknown"], row["n"])
        yield jobs
        last = SyncRound.objects.aggregate(at=Max("finished"))["at"]
        yield GaugeMetricFamily(
            "ftproxy_sync_last_round_timestamp_seconds",
            "When the last job sync round (any worker, any host) finished, in Unix seconds; "
            "0 if none has.",
            value=last.timestamp() if last else 0,
        )


class MetricsView(GatewayView):
    """Prometheus scrape endpoint; the master key as a bearer token."""

    audited = False  # scraped every few seconds: the log would be scrapes

    @operation(exclude=True)
    def get(self, request):
        if not getattr(request.user, "is_master", False):
            raise InvalidApiKey("/metrics is readable with the master key only.")
        ledger = CollectorRegistry(auto_describe=False)
        ledger.register(LedgerCollector())
        return HttpResponse(metrics.render(ledger), content_type=metrics.CONTENT_TYPE_LATEST)
