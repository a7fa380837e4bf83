"""Sync health for the dashboard: the last round, recent failures, and
whether the rounds keep coming as often as configured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from ...conf import gateway
from ...models import FineTuningJob, LedgerState, SyncRound

#: A watcher is "late" when no round finished for this many intervals.
LATE_AFTER_INTERVALS = 3


@dataclass
class SyncHealth:
    """What the dashboard shows about the job sync."""

    last_round: SyncRound | None
    interval_seconds: float
    rounds_24h: int
    failed_rounds_24h: int
    failed_syncs_24h: int
    active_jobs: int
    jobs_with_sync_error: int
    last_failed_round: SyncRound | None

    @property
    def late(self) -> bool:
        """No round lately: nothing keeps the active jobs' status fresh."""
        if self.last_round is None:
            return self.active_jobs > 0
        age = (timezone.now() - self.last_round.finished).total_seconds()
        return age > LATE_AFTER_INTERVALS * self.interval_seconds


def sync_health(now: datetime | None = None) -> SyncHealth:
    now = now or timezone.now()
    day = SyncRound.objects.filter(finished__gte=now - timedelta(hours=24)).aggregate(
        rounds=Count("id"), failed_rounds=Count("id", filter=Q(failed__gt=0)), failed=Sum("failed")
    )
    active = FineTuningJob.objects.filter(terminal=False, ledger_state=LedgerState.OK)
    return SyncHealth(
        last_round=SyncRound.objects.order_by("-finished", "-id").first(),
        interval_seconds=gateway().sync_interval_seconds,
        rounds_24h=day["rounds"] or 0,
        failed_rounds_24h=day["failed_rounds"] or 0,
        failed_syncs_24h=day["failed"] or 0,
        active_jobs=active.count(),
        jobs_with_sync_error=active.exclude(sync_error="").count(),
        last_failed_round=SyncRound.objects.filter(failed__gt=0).order_by("-finished").first(),
    )


def last_round_sql() -> str:
    """``SELECT MAX(finished)`` of the sync rounds, for a connection of its
    own (readiness probes on one with short timeouts)."""
    meta = SyncRound._meta
    quote = connection.ops.quote_name
    return f"SELECT MAX({quote(meta.get_field('finished').column)}) FROM {quote(meta.db_table)}"


def last_round_finished() -> datetime | None:
    """When the last sync round finished (None: never)."""
    return SyncRound.objects.aggregate(last=Max("finished"))["last"]


def watcher_late(last_finished: datetime | None, now: datetime | None = None) -> str | None:
    """Why the sync watcher counts as late, or None. Only where one is
    expected (``ftproxy_settings.sync_watcher``): no round finished within
    ``LATE_AFTER_INTERVALS`` intervals, or none was ever recorded."""
    settings = gateway()
    if not settings.sync_watcher:
        return None
    if last_finished is None:
        return "no sync round was ever recorded"
    age = ((now or timezone.now()) - last_finished).total_seconds()
    limit = LATE_AFTER_INTERVALS * settings.sync_interval_seconds
    if age <= limit:
        return None
    return f"the last sync round finished {age:.0f} s ago (more than {limit:g} s)"
