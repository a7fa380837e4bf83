"""Job status sync: refresh every job whose provider status is not final.

One round (``sync_jobs``) claims jobs in batches and queues them for
worker threads that do nothing but the upstream call; the round's own
thread does all the database work: it claims, renews leases, and records
the answers as they come back, a batch at a time, through
``change_statuses``: answers that change nothing cost one shared UPDATE
(``synced_at`` and the lease release), the others one transaction, each
real change with one ``JobEvent`` with source ``sync``, its cost on
success and ``job_status_changed`` sent after commit. Since the threads
never touch the database, SQLite has one writer, and on PostgreSQL a job
costs a share of a few statements rather than round trips of its own.

Several rounds may run at once, in threads, processes or on several hosts
against one PostgreSQL. A job is claimed with ``SELECT … FOR UPDATE SKIP
LOCKED`` in a short transaction that writes a lease (``lease_owner`` =
``host:pid:uuid``, ``lease_expires_at`` = now + ``lease_seconds``); nobody
else claims a job while its lease is unexpired, and an expired lease (a
crashed worker) is taken over. The upstream call happens after that
transaction has committed, so no row lock is held while waiting for a
provider. Shortly before a job's own call its lease is renewed to cover
that call (the entry's timeout × attempts + 60 s, at least
``lease_seconds``): jobs are renewed a few dozen at a time, in one UPDATE,
as they are queued for the threads, which keep a small queue; a job a
thread takes more than ``RENEWAL_VALID_SECONDS`` after its renewal is
renewed again first. A job whose lease was lost meanwhile is left to its
new owner. With one worker, each job is renewed just before its call.

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
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from ... import metrics
from ...models import SYNC_ROUND_RETENTION_DAYS, FineTuningJob, SyncRound
from ...providers.data import RemoteJob
from ..ledger.status import change_status, change_statuses
from .fetchers import Answer, Fetchers
from .leases import (
    candidates,
    claim,
    lease_owner_id,
    release,
    renew_leases,
    row_locking_supported,
)

logger = logging.getLogger("ftproxy.sync")

#: How long a claim holds: longer than a claimed job waits to be handed to
#: a thread (the round renews it then, to cover the call).
LEASE_SECONDS = 300
#: Jobs claimed per transaction, and answers recorded per transaction: at
#: least this, and ``PER_WORKER`` per worker thread.
BATCH_SIZE = 10
PER_WORKER = 8
#: Renewed jobs queued for the threads: this many per worker thread, so
#: they keep busy while the round's thread claims or records. Refilled,
#: one renewal for the lot, when half of them have been taken.
READY_PER_WORKER = 8
#: Answers wait at most this long to be recorded (when fewer than a batch
#: have come back).
RECORD_SECONDS = 0.5
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
    seconds. With ``workers`` above 1, that many threads make the upstream
    calls (and nothing else); with 1, the calls are made in this thread,
    each just after its lease renewal. A batch is ``batch_size`` jobs, by
    default ``BATCH_SIZE`` or ``PER_WORKER`` per worker; the next one is
    claimed before the threads run out of work. Answers are recorded a
    batch at a time (or after ``RECORD_SECONDS``, or when no call is left
    running); ``progress`` is called with the running totals after each
    job is recorded. ``should_stop`` is asked before each step: once it
    says yes, the jobs claimed but not yet taken by a thread are released
    (not marked synced) and the round ends with the calls in flight.

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
    # In this thread, one job is renewed at a time, just before its call.
    ready = 1 if workers == 1 else READY_PER_WORKER * workers

    claimed: deque[FineTuningJob] = deque()  # leased, not yet renewed for a thread
    answered: list[tuple[FineTuningJob, Answer]] = []  # fetched, not yet recorded
    first_answer = 0.0  # when the oldest of them came back
    claiming, stopped = True, False
    fetchers = Fetchers(0 if workers == 1 else workers)
    try:
        while True:
            if not stopped and should_stop and should_stop():
                stopped, claiming = True, False
            if stopped and (claimed or fetchers.waiting()):
                release([job.pk for job in [*claimed, *fetchers.withdraw()]], owner, synced=False)
                claimed.clear()
            if claiming and len(claimed) < ready:
                cutoff = round_start
                if older_than is not None:
                    cutoff = min(cutoff, timezone.now() - timedelta(seconds=float(older_than)))
                batch = claim(
                    candidates(provider, ids, cutoff),
                    owner=owner,
                    size=batch_size,
                    lease_seconds=lease_seconds,
                    row_locking=result.row_locking,
                )
                claimed.extend(batch)
                claiming = bool(batch)
            waiting = fetchers.waiting()
            if claimed and waiting <= ready // 2:
                handed = [claimed.popleft() for _ in range(min(ready - waiting, len(claimed)))]
                renewed = time.monotonic()
                for job in renew_leases(handed, owner, lease_seconds, covers):
                    fetchers.put(job, renewed)
            if answered and (
                not fetchers.outstanding
                or len(answered) >= batch_size
                or time.monotonic() - first_answer >= RECORD_SECONDS
            ):
                _record_answers(answered, owner, result, progress)
                answered = []
            if not fetchers.outstanding:
                if not claimed and not claiming:
                    break
                continue
            for job, answer in fetchers.take(timeout=RECORD_SECONDS):
                if answer is None:  # renewed too long ago: renew it again
                    claimed.appendleft(job)
                    continue
                if not answered:
                    first_answer = time.monotonic()
                answered.append((job, answer))
    finally:
        # Interrupted (a second Ctrl-C) or failed: keep what was fetched, free the rest.
        unfetched = [*claimed, *fetchers.withdraw()]
        fetchers.close()  # waits for the calls in flight
        for job, answer in fetchers.take(timeout=0):
            if answer is None:
                unfetched.append(job)
            else:
                answered.append((job, answer))
        if answered or unfetched:
            try:
                _record_answers(answered, owner, result, progress)
                release([job.pk for job in unfetched], owner, synced=False)
            except Exception:
                logger.exception("sync: could not record the end of an interrupted round")
        result.seconds = time.monotonic() - started
    _record_round(result, owner, round_start)
    return result


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
    started: list[datetime] = []  # when each call began: older answers are dropped
    errors: dict[int, str] = {}
    for job, (remote, error, fetched_at) in answered:
        if remote is None:
            errors[job.pk] = error or "unknown error"
        else:
            job.synced_at = now  # _release writes it: change_statuses need not
            fetched.append((job, remote))
            started.append(fetched_at)
    changed: dict[int, bool] = {}
    try:
        changed = dict(
            zip(
                (job.pk for job, _ in fetched),
                change_statuses(fetched, source="sync", fetched_at=started),
                strict=True,
            )
        )
    except Exception:  # rolled back whole: record them one by one
        logger.warning("sync: recording a batch failed; recording its jobs one by one")
        for (job, remote), fetched_at in zip(fetched, started, strict=True):
            try:
                changed[job.pk] = change_status(job, remote, source="sync", fetched_at=fetched_at)
            except Exception as exc:  # a bug or a database error: keep syncing the others
                errors[job.pk] = f"{type(exc).__name__}: {exc}"
                logger.exception("sync of %s failed unexpectedly", job.public_id)
    release(list(changed), owner)
    by_message: dict[str, list[int]] = {}
    for pk, message in errors.items():
        by_message.setdefault(message[:MAX_ERROR_LENGTH], []).append(pk)
    for message, pks in by_message.items():
        release(pks, owner, error=message)
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
