"""Job status sync: refresh every job whose provider status is not final.

One round (``sync_jobs``) claims jobs in small batches, fetches each from
its provider outside any transaction, records the answer through
``change_status`` (so each real change writes one ``JobEvent`` with source
``sync``, fills in cost on success and sends ``job_status_changed`` after
commit), and releases the claims (the batch's synced jobs in one UPDATE).

Several rounds may run at once, in threads, processes or on several hosts
against one PostgreSQL. A job is claimed with ``SELECT … FOR UPDATE SKIP
LOCKED`` in a short transaction that writes a lease (``lease_owner`` =
``host:pid:uuid``, ``lease_expires_at`` = now + ``lease_seconds``); nobody
else claims a job while its lease is unexpired, and an expired lease (a
crashed worker) is taken over. The upstream call happens after that
transaction has committed, so no row lock is held while waiting for a
provider. Just before a job's own call its lease is renewed to cover that
call (the entry's timeout × attempts + 60 s, at least ``lease_seconds``);
a job whose lease was lost meanwhile is left to its new owner.

Which jobs a round takes: ``terminal=False`` and ``ledger_state="ok"``,
not synced since the round began (so a round never fetches a job twice),
and with ``older_than`` not synced within that many seconds by anyone (so
several workers share the work instead of repeating it).

On a database without ``SKIP LOCKED`` (SQLite) there are no row locks: each
job is claimed by a conditional UPDATE instead, which is enough for one
process; SQLite is for one process on one machine.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import metrics
from ..conf import FINE_TUNING, gateway
from ..errors import GatewayError
from ..models import SYNC_ROUND_RETENTION_DAYS, FineTuningJob, LedgerState, SyncRound
from ..providers.base import ProviderError
from .context import MASTER, CallContext
from .jobs import run_job_hook

logger = logging.getLogger("ftproxy.sync")

#: How long a claim holds. Longer than a batch can take: a batch of
#: ``BATCH_SIZE`` jobs over ``workers`` threads, each call bounded by the
#: entry's timeout and retries.
LEASE_SECONDS = 300
#: Jobs claimed per transaction: at least this, and two per worker thread
#: (so no thread idles while the batch's slowest call finishes).
BATCH_SIZE = 10
#: ``sync_error`` is cut to this many characters.
MAX_ERROR_LENGTH = 2000


@dataclass
class SyncResult:
    """What one round did. ``failures`` lists ``(public job id, message)``."""

    checked: int = 0
    changed: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: False when the database has no row locks (SQLite).
    row_locking: bool = True

    def summary(self) -> str:
        return (
            f"checked={self.checked} changed={self.changed} failed={self.failed} "
            f"seconds={self.seconds:.1f}"
        )


def lease_owner_id() -> str:
    """A name for this claimer, unique across hosts and processes: host:pid:uuid."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def row_locking_supported() -> bool:
    """Whether the database can claim with ``SELECT … FOR UPDATE SKIP LOCKED``."""
    return bool(connection.features.has_select_for_update_skip_locked)


def sync_jobs(
    *,
    provider: str | None = None,
    job_ids: Iterable[str] | None = None,
    workers: int = 1,
    older_than: float | None = None,
    progress: Callable[[SyncResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> SyncResult:
    """Refresh every job whose provider status is not final; one round.

    ``provider`` limits the round to one configured entry, ``job_ids`` to
    those public ids; ``older_than`` skips jobs synced within that many
    seconds. ``workers`` threads make the upstream calls (each keeps its
    database connection for the round and closes it at the end); a batch
    is ``batch_size`` jobs, by default ``BATCH_SIZE`` or two per worker.
    ``progress`` is called with the running totals after each job;
    ``should_stop`` is asked before each batch, so a stop request ends the
    round after the current batch.

    A job that fails (``ProviderError``, ``GatewayError`` or anything
    unexpected) gets ``sync_error`` and ``synced_at`` set, is counted in
    ``failed`` and listed in ``failures``; the round goes on.
    """
    started = time.monotonic()
    round_start = timezone.now()
    owner = lease_owner_id()
    result = SyncResult(row_locking=row_locking_supported())
    lock = threading.Lock()
    workers = max(1, int(workers))
    batch_size = max(1, int(batch_size)) if batch_size else max(BATCH_SIZE, 2 * workers)
    ids = list(job_ids) if job_ids is not None else None

    def record(public_id: str, changed: bool, error: str | None) -> None:
        with lock:
            result.checked += 1
            if error is not None:
                result.failed += 1
                result.failures.append((public_id, error))
            elif changed:
                result.changed += 1
            if progress is not None:
                progress(result)

    def run(job: FineTuningJob, synced: list[int]) -> None:
        outcome = _sync_one(job, owner, lease_seconds)
        if outcome is None:  # the lease went to another worker
            return
        if outcome[1] is None:
            synced.append(job.pk)  # released with the rest of the batch
        record(job.public_id, *outcome)

    executor = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        while not (should_stop and should_stop()):
            cutoff = round_start
            if older_than is not None:
                cutoff = min(cutoff, timezone.now() - timedelta(seconds=float(older_than)))
            batch = _claim(
                _candidates(provider, ids, cutoff),
                owner=owner,
                size=batch_size,
                lease_seconds=lease_seconds,
                row_locking=result.row_locking,
            )
            if not batch:
                break
            # One query loads the batch; one releases the jobs synced.
            jobs = FineTuningJob.objects.in_bulk([pk for pk, _ in batch])
            synced: list[int] = []
            try:
                if executor is None:
                    for job in jobs.values():
                        run(job, synced)
                else:
                    # list() waits for the whole batch and re-raises any bug.
                    list(executor.map(run, jobs.values(), [synced] * len(jobs)))
            finally:
                _release(synced, owner)
    finally:
        if executor is not None:
            _close_thread_connections(executor, workers)
            executor.shutdown(wait=True)
        result.seconds = time.monotonic() - started
    _record_round(result, owner, round_start)
    return result


def _record_round(result: SyncResult, owner: str, round_start: datetime) -> None:
    """Sync health for the dashboard and ``/metrics``: one ``SyncRound`` row
    (older ones pruned) and the round counters."""
    metrics.observe_sync_round(result.failed)
    now = timezone.now()
    SyncRound.objects.create(
        started=round_start,
        finished=now,
        worker=owner,
        checked=result.checked,
        changed=result.changed,
        failed=result.failed,
        first_error=(": ".join(result.failures[0]) if result.failures else "")[:MAX_ERROR_LENGTH],
    )
    SyncRound.objects.filter(finished__lt=now - timedelta(days=SYNC_ROUND_RETENTION_DAYS)).delete()


def _close_thread_connections(executor: ThreadPoolExecutor, workers: int) -> None:
    """Close the database connection of each of the executor's threads: one
    task per thread, held at a barrier until every thread has one."""
    barrier = threading.Barrier(workers)

    def close() -> None:
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        connections.close_all()

    for future in [executor.submit(close) for _ in range(workers)]:
        future.result()


def _candidates(
    provider: str | None, job_ids: list[str] | None, cutoff: datetime
) -> QuerySet[FineTuningJob]:
    """Jobs a round may claim now: not final, created upstream, not synced
    since ``cutoff``, with no unexpired lease."""
    now = timezone.now()
    queryset = FineTuningJob.objects.filter(terminal=False, ledger_state=LedgerState.OK)
    if provider:
        queryset = queryset.filter(provider=provider)
    if job_ids is not None:
        queryset = queryset.filter(public_id__in=job_ids)
    return queryset.filter(
        Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff),
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now),
    )


def _claim(
    candidates: QuerySet[FineTuningJob],
    *,
    owner: str,
    size: int,
    lease_seconds: float,
    row_locking: bool,
) -> list[tuple[int, str]]:
    """Lease up to ``size`` candidates to ``owner``; return their (pk, public id).

    Oldest-synced first. With row locking, one short transaction locks the
    rows with SKIP LOCKED (rows another claimer is leasing right now are
    passed over) and writes the lease. Without it, each row is leased by an
    UPDATE that repeats the candidate conditions, so a row claimed in the
    meantime is not taken twice.
    """
    expires = timezone.now() + timedelta(seconds=lease_seconds)
    ordered = candidates.order_by(F("synced_at").asc(nulls_first=True), "id")
    if row_locking:
        with transaction.atomic():
            rows = list(
                ordered.select_for_update(skip_locked=True).values_list("pk", "public_id")[:size]
            )
            FineTuningJob.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                lease_owner=owner, lease_expires_at=expires
            )
        return rows
    claimed = []
    for pk, public_id in ordered.values_list("pk", "public_id")[:size]:
        if candidates.filter(pk=pk).update(lease_owner=owner, lease_expires_at=expires):
            claimed.append((pk, public_id))
    return claimed


def _renew_lease(job: FineTuningJob, owner: str, lease_seconds: float) -> bool:
    """Extend ``owner``'s lease to cover this job's own upstream call (the
    job may have waited behind slow calls of its batch). False when the
    lease expired and another worker holds the job now."""
    provider = gateway().provider(FINE_TUNING, job.provider)
    seconds = lease_seconds
    if provider is not None:
        seconds = max(seconds, provider.timeout * (provider.max_retries + 1) + 60)
    renewed = FineTuningJob.objects.filter(pk=job.pk, lease_owner=owner).update(
        lease_expires_at=timezone.now() + timedelta(seconds=seconds)
    )
    return renewed == 1


def _sync_one(
    job: FineTuningJob, owner: str, lease_seconds: float
) -> tuple[bool, str | None] | None:
    """Fetch one leased job from its provider and record the answer. Returns
    (status changed, error message or None), or None when the lease was
    lost to another worker before the call. A failed job is released here
    with its error; a synced one by the caller, with its batch."""
    public_id = job.public_id
    try:
        if not _renew_lease(job, owner, lease_seconds):
            return None
        job.synced_at = timezone.now()  # _release writes it: change_status need not
        ctx = CallContext(caller=MASTER)
        changed = run_job_hook(ctx, job, "retrieve", source="sync")
        return changed, None
    except (ProviderError, GatewayError) as exc:
        message = exc.message or type(exc).__name__
        logger.warning("sync of %s failed: %s", public_id, message)
    except Exception as exc:  # a bug or a database error: keep syncing the others
        message = f"{type(exc).__name__}: {exc}"
        logger.exception("sync of %s failed unexpectedly", public_id)
    _release([job.pk], owner, error=message[:MAX_ERROR_LENGTH])
    return False, message


def _release(pks: list[int], owner: str, *, error: str | None = None) -> None:
    """Drop ``owner``'s lease on the jobs and mark them synced (``change_status``
    leaves a fresh ``synced_at`` alone); with ``error``, record the failure."""
    if not pks:
        return
    now = timezone.now()
    fields: dict[str, object] = {
        "lease_owner": "",
        "lease_expires_at": None,
        "synced_at": now,
        "updated": now,
    }
    if error is not None:
        fields.update(sync_error=error)
    FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner).update(**fields)
