"""The job list's "Sync all active jobs now", bounded to fit in a request.

A pass over every active job can take minutes (hundreds of jobs, slow
upstreams), far longer than a browser or a proxy waits. The button syncs at
most ``SYNC_NOW_MAX_JOBS`` jobs, those synced longest ago first, and stops
taking new ones after ``SYNC_NOW_SECONDS`` (calls in flight then finish,
each within its entry's timeout); the rest are left to the sync watcher
(``manage.py ftproxy_sync_jobs --watch``), and the message says how many.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from ..models import FineTuningJob, LedgerState
from ..services.jobs.sync import sync_jobs

#: Most jobs one press syncs in the request.
SYNC_NOW_MAX_JOBS = 100
#: Seconds after which one press takes no new job.
SYNC_NOW_SECONDS = 10.0
#: Threads making the upstream calls for one press.
SYNC_NOW_WORKERS = 4


def sync_now(*, max_jobs: int, seconds: float) -> tuple[Any, int]:
    """Sync the ``max_jobs`` active jobs synced longest ago, taking none after
    ``seconds``; return the round's ``SyncResult`` and how many active
    jobs it left unsynced."""
    started = timezone.now()
    active = FineTuningJob.objects.filter(terminal=False, ledger_state=LedgerState.OK)
    oldest_first = active.order_by(F("synced_at").asc(nulls_first=True), "pk")
    ids = list(oldest_first.values_list("public_id", flat=True)[: max(0, max_jobs)])
    deadline = time.monotonic() + seconds
    result = sync_jobs(
        job_ids=ids,
        workers=SYNC_NOW_WORKERS,
        should_stop=lambda: time.monotonic() >= deadline,
    )
    left = active.filter(Q(synced_at__isnull=True) | Q(synced_at__lt=started)).count()
    return result, left
