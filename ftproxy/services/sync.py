"""Job status sync: refresh every job whose provider status is not final.

One round (``sync_jobs``) claims jobs in small batches and hands them to
worker threads that do nothing but the upstream call; the round's own
thread records the answers as they come back, many at a time, through
``change_statuses``: answers that change nothing are written as one UPDATE
(``synced_at`` and the lease release of all of them), the others in one
transaction, each real change with one ``JobEvent`` with source ``sync``,
its cost on success and ``job_status_changed`` sent after commit. Worker
threads never touch the database, so on SQLite there is one writer, and
on PostgreSQL a job costs a share of a few statements instead of several
round trips of its own.

Several rounds may run at once, in threads, processes or on several hosts
against one PostgreSQL. A job is claimed with ``SELECT … FOR UPDATE SKIP
LOCKED`` in a short transaction that writes a lease (``lease_owner`` =
``host:pid:uuid``, ``lease_expires_at`` = now + ``lease_seconds``); nobody
else claims a job while its lease is unexpired, and an expired lease (a
crashed worker) is taken over. The upstream call happens after that
transaction has committed, so no row lock is held while waiting for a
provider. Just before a job's own call its lease is renewed to cover that
call (the entry's timeout × attempts + 60 s, at least ``lease_seconds``;
the jobs handed to threads together share one UPDATE); a job whose lease
was lost meanwhile is left to its new owner. A thread is handed a job only
when it is free, so no renewed job waits behind another call.

Which jobs a round takes: ``terminal=False`` and ``ledger_state="ok"``,
not synced since the round began (so a round never fetches a job twice),
and with ``older_than`` not synced within that many seconds by anyone (so
several workers share the work instead of repeating it).

On a database without ``SKIP LOCKED`` (SQLite) there are no row locks: a
batch is claimed by a conditional UPDATE instead, which is enough for one
process; SQLite is for one process on one machine.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import metrics
from ..conf import FINE_TUNING, gateway
from ..errors import GatewayError
from ..models import SYNC_ROUND_RETENTION_DAYS, FineTuningJob, LedgerState, SyncRound
from ..providers.base import ProviderError, RemoteJob
from .context import MASTER, CallContext
from .jobs import fetch_job
from .status import change_status, change_statuses

logger = logging.getLogger("ftproxy.sync")

#: How long a claim holds. Longer than a batch can wait for a free thread:
#: ``BATCH_SIZE`` jobs over ``workers`` threads, each call bounded by the
#: entry's timeout and retries.
LEASE_SECONDS = 300
#: Jobs claimed per transaction, and answers recorded per transaction: at
#: least this, and eight per worker thread (a new batch is claimed while
#: the threads still have work).
BATCH_SIZE = 10
PER_WORKER = 8
#: Answers wait at most this long to be recorded (when fewer than a batch
#: have come back).
RECORD_SECONDS = 0.5
#: ``sync_error`` is cut to this many characters.
MAX_ERROR_LENGTH = 2000

#: A fetched job: the provider's answer, or the error message.
Answer = tuple[RemoteJob | None, str | None]


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
    seconds. ``workers`` threads make the upstream calls (and nothing
    else); a batch is ``batch_size`` jobs, by default ``BATCH_SIZE`` or
    ``PER_WORKER`` per worker, and the next one is claimed before the
    threads run out of work. Answers are recorded a batch at a time (or
    after ``RECORD_SECONDS``, or when no call is left running); ``progress``
    is called with the running totals after each job is recorded;
    ``should_stop`` is asked before each claim and each hand-out:
    once it says yes, the jobs claimed but not yet handed to a thread are
    released (not marked synced) and the round ends with the calls in flight.

    A job that fails (``ProviderError``, ``GatewayError`` or anything
    unexpected) gets ``sync_error`` and ``synced_at`` set, is counted in
    ``failed`` and listed in ``failures``; the round goes on.
    """
    started = time.monotonic()
    round_start = timezone.now()
    owner = lease_owner_id()
    result = SyncResult(row_locking=row_locking_supported())
    workers = max(1, int(workers))
    batch_size = max(1, int(batch_size)) if batch_size else max(BATCH_SIZE, PER_WORKER * workers)
    ids = list(job_ids) if job_ids is not None else None
    covers: dict[str, float] = {}

    queued: deque[FineTuningJob] = deque()  # claimed, not yet handed to a thread
    running: dict[Future[Answer], FineTuningJob] = {}
    answered: list[tuple[FineTuningJob, Answer]] = []  # fetched, not yet recorded
    first_answer = 0.0  # when the oldest answer not yet recorded came back
    claiming = True
    executor = ThreadPoolExecutor(workers, "ftproxy-sync") if workers > 1 else None
    try:
        while True:
            if claiming and should_stop and should_stop():
                claiming = False
                _release([job.pk for job in queued], owner, synced=False)
                queued.clear()
            if claiming and len(queued) < workers:
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
                queued.extend(batch)
                claiming = bool(batch)
            free = workers - len(running)
            if free and queued:
                handed = [queued.popleft() for _ in range(min(free, len(queued)))]
                for job in _renew_leases(handed, owner, lease_seconds, covers):
                    if executor is None:
                        answered.append((job, _fetch(job)))
                    else:
                        running[executor.submit(_fetch, job)] = job
            if answered and (
                not running
                or len(answered) >= batch_size
                or time.monotonic() - first_answer >= RECORD_SECONDS
            ):
                _record_answers(answered, owner, result, progress)
                answered.clear()
            if running:
                done, _ = wait(running, timeout=RECORD_SECONDS, return_when=FIRST_COMPLETED)
                if done and not answered:
                    first_answer = time.monotonic()
                answered.extend((running.pop(future), future.result()) for future in done)
            elif not queued and not claiming:
                break
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
            answered.extend((job, future.result()) for future, job in running.items())
        if answered or queued:  # interrupted: keep what was fetched, free the rest
            try:
                _record_answers(answered, owner, result, progress)
                _release([job.pk for job in queued], owner, synced=False)
            except Exception:
                logger.exception("sync: could not record the answers of an interrupted round")
        result.seconds = time.monotonic() - started
    _record_round(result, owner, round_start)
    return result


def _fetch(job: FineTuningJob) -> Answer:
    """The provider's answer for one leased job (run in a worker thread: the
    upstream call only, no database), or the error message."""
    try:
        return fetch_job(CallContext(caller=MASTER), job, "retrieve"), None
    except (ProviderError, GatewayError) as exc:
        message = exc.message or type(exc).__name__
        logger.warning("sync of %s failed: %s", job.public_id, message)
    except Exception as exc:  # a bug: keep syncing the others
        message = f"{type(exc).__name__}: {exc}"
        logger.exception("sync of %s failed unexpectedly", job.public_id)
    return None, message


def _record_answers(
    answered: list[tuple[FineTuningJob, Answer]],
    owner: str,
    result: SyncResult,
    progress: Callable[[SyncResult], None] | None,
) -> None:
    """Record fetched jobs: the answers through ``change_statuses`` (one
    batch; if it fails, job by job, so one bad job fails alone), then the
    lease release of every job synced in one UPDATE, and each failure."""
    now = timezone.now()
    fetched: list[tuple[FineTuningJob, RemoteJob]] = []
    errors: dict[int, str] = {}
    for job, (remote, error) in answered:
        if remote is None:
            errors[job.pk] = error or "unknown error"
        else:
            job.synced_at = now  # _release writes it: change_statuses need not
            fetched.append((job, remote))
    changed: dict[int, bool] = {}
    try:
        changed = dict(
            zip(
                (job.pk for job, _ in fetched),
                change_statuses(fetched, source="sync"),
                strict=True,
            )
        )
    except Exception:  # rolled back whole: record them one by one
        logger.warning("sync: recording a batch failed; recording its jobs one by one")
        for job, remote in fetched:
            try:
                changed[job.pk] = change_status(job, remote, source="sync")
            except Exception as exc:  # a bug or a database error: keep syncing the others
                errors[job.pk] = f"{type(exc).__name__}: {exc}"
                logger.exception("sync of %s failed unexpectedly", job.public_id)
    _release(list(changed), owner)
    by_message: dict[str, list[int]] = {}
    for pk, message in errors.items():
        by_message.setdefault(message[:MAX_ERROR_LENGTH], []).append(pk)
    for message, pks in by_message.items():
        _release(pks, owner, error=message)
    for job, _ in answered:
        result.checked += 1
        if job.pk in errors:
            result.failed += 1
            result.failures.append((job.public_id, errors[job.pk]))
        elif changed.get(job.pk):
            result.changed += 1
        if progress is not None:
            progress(result)


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
) -> list[FineTuningJob]:
    """Lease up to ``size`` candidates to ``owner`` and return them, loaded.

    Oldest-synced first, in one short transaction. With row locking, the
    rows are locked with SKIP LOCKED (rows another claimer is leasing right
    now are passed over) and leased. Without it, one UPDATE that repeats
    the candidate conditions leases them, so a row claimed in the meantime
    is not taken twice.
    """
    expires = timezone.now() + timedelta(seconds=lease_seconds)
    ordered = candidates.order_by(F("synced_at").asc(nulls_first=True), "id")
    with transaction.atomic():
        if row_locking:
            jobs = list(ordered.select_for_update(skip_locked=True)[:size])
            FineTuningJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
                lease_owner=owner, lease_expires_at=expires
            )
        else:
            jobs = list(ordered[:size])
            pks = [job.pk for job in jobs]
            leased = candidates.filter(pk__in=pks).update(
                lease_owner=owner, lease_expires_at=expires
            )
            if leased < len(pks):
                mine = set(
                    FineTuningJob.objects.filter(
                        pk__in=pks, lease_owner=owner, lease_expires_at=expires
                    ).values_list("pk", flat=True)
                )
                jobs = [job for job in jobs if job.pk in mine]
    for job in jobs:
        job.lease_owner, job.lease_expires_at = owner, expires
    return jobs


def _renew_leases(
    jobs: list[FineTuningJob], owner: str, lease_seconds: float, covers: dict[str, float]
) -> list[FineTuningJob]:
    """Extend ``owner``'s lease on jobs about to be fetched to cover each
    one's own upstream call (they may have waited for a free thread); one
    UPDATE per entry's timeout. Returns the jobs still held: one whose
    lease expired and went to another worker is left to it."""
    groups: dict[float, list[FineTuningJob]] = {}
    for job in jobs:
        seconds = covers.get(job.provider)
        if seconds is None:
            seconds = lease_seconds
            provider = gateway().provider(FINE_TUNING, job.provider)
            if provider is not None:
                seconds = max(seconds, provider.timeout * (provider.max_retries + 1) + 60)
            covers[job.provider] = seconds
        groups.setdefault(seconds, []).append(job)
    now = timezone.now()
    held: list[FineTuningJob] = []
    for seconds, group in groups.items():
        pks = [job.pk for job in group]
        mine = FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner)
        if mine.update(lease_expires_at=now + timedelta(seconds=seconds)) < len(pks):
            still = set(mine.values_list("pk", flat=True))
            group = [job for job in group if job.pk in still]
        held.extend(group)
    return held


def _release(pks: list[int], owner: str, *, error: str | None = None, synced: bool = True) -> None:
    """Drop ``owner``'s lease on the jobs and mark them synced (``change_statuses``
    leaves a fresh ``synced_at`` alone); with ``error``, record the failure;
    with ``synced=False`` (jobs never fetched), only drop the lease."""
    if not pks:
        return
    now = timezone.now()
    fields: dict[str, object] = {"lease_owner": "", "lease_expires_at": None}
    if synced:
        fields.update(synced_at=now, updated=now)
    if error is not None:
        fields.update(sync_error=error)
    FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner).update(**fields)
