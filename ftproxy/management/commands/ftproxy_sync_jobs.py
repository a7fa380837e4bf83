"""``manage.py ftproxy_sync_jobs``: refresh jobs whose provider status is not final.

Thin: parses arguments and calls ``ftproxy.services.jobs.sync.sync_jobs`` once,
or every ``--interval`` seconds with ``--watch``. Prints progress (updated
in place on a terminal) and one summary line per round::

    checked=12 changed=3 failed=1 seconds=2.4

Exits non-zero when any job failed in the (last) round; with ``--watch``,
only when asked to stop (status 0) or interrupted. Ctrl-C stops after the
current batch (so does SIGTERM); a second one stops at once.

With ``--watch`` a round that fails as a whole (the database went away, a
bug) is logged, the process's database connections are closed (the next
round opens new ones) and the next round comes after a backoff: the
interval, doubled after each failure in a row up to ``MAX_BACKOFF_SECONDS``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from ftproxy.conf import FINE_TUNING, gateway
from ftproxy.models import FineTuningJob
from ftproxy.services.accounts.webhooks import ROUND_BUDGET_SECONDS, deliver_due
from ftproxy.services.files.spool import clean_spool
from ftproxy.services.jobs.shutdowns import notify_approaching
from ftproxy.services.jobs.sync import SyncResult, row_locking_supported, sync_jobs
from ftproxy.services.ledger.reconcile import reconcile_pending
from ftproxy.services.uploads.cleanup import clean_up_uploads


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(value)
    return number


#: Ctrl-C, and what service managers (systemd, Docker, Kubernetes) send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: The longest wait after failed rounds in a row (the first waits one interval).
MAX_BACKOFF_SECONDS = 300.0

logger = logging.getLogger("ftproxy.sync")


def backoff(failures: int, interval: float) -> float:
    """The wait after ``failures`` failed rounds in a row: the interval,
    doubled after each further failure, at most ``MAX_BACKOFF_SECONDS``
    (or the interval, if that is longer)."""
    return min(interval * 2 ** max(failures - 1, 0), max(MAX_BACKOFF_SECONDS, interval))


def close_connections() -> None:
    """Drop this thread's database connection after a failed round: a dead
    one (the database restarted, a frozen link) is never reused."""
    close_old_connections()
    try:
        connection.close()
    except DatabaseError:  # it was dead already: closed all the same
        pass


def _sleep(seconds: float, stop: threading.Event) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; return whether it was set.

    Waits in short slices: a signal delivered to another thread does not
    wake the main thread from one long wait, so its handler would only run
    at the end of it."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop.wait(min(left, 0.25)):
            return True
    return stop.is_set()


class Command(BaseCommand):
    """Sync job statuses from the providers; see the module docstring."""

    help = (
        "Refresh every fine-tuning job whose provider status is not final, record status "
        "changes and cost. Safe to run on several hosts at once on PostgreSQL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", help="Only jobs of this configured entry.")
        parser.add_argument(
            "--job",
            action="append",
            dest="job_ids",
            metavar="ID",
            help="Only this job (public id); repeat for several.",
        )
        parser.add_argument(
            "--watch", action="store_true", help="Keep syncing, one round every --interval."
        )
        parser.add_argument(
            "--interval",
            type=_positive,
            metavar="SECONDS",
            help="Seconds between rounds with --watch (default: sync_interval_seconds).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            metavar="N",
            help="Threads making upstream calls in parallel (default 1).",
        )
        parser.add_argument(
            "--older-than",
            type=float,
            dest="older_than",
            metavar="SECONDS",
            help="Skip jobs synced within this many seconds (by any worker). "
            "With --watch the default is half the interval.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        provider = options["provider"]
        configured = gateway().entries(FINE_TUNING)
        if provider and provider not in configured:
            raise CommandError(
                f"--provider {provider!r} is not configured for fine-tuning "
                f"(configured: {', '.join(sorted(configured)) or 'none'})."
            )
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        job_ids = options["job_ids"]
        if job_ids:
            known = set(
                FineTuningJob.objects.filter(public_id__in=job_ids).values_list(
                    "public_id", flat=True
                )
            )
            unknown = [job_id for job_id in job_ids if job_id not in known]
            if unknown:
                raise CommandError(f"--job: no such job in the ledger: {', '.join(unknown)}")
        interval = options["interval"] or gateway().sync_interval_seconds
        older_than = options["older_than"]
        if older_than is None and options["watch"]:
            older_than = interval / 2
        if not row_locking_supported():
            self.stdout.write(
                "Note: this database has no row locking (SQLite): run one sync process "
                "at a time; several hosts need PostgreSQL."
            )

        stop = threading.Event()
        previous = self._on_interrupt(stop)
        result: SyncResult | None = None
        failures = 0  # rounds failed in a row
        try:
            while True:
                wait = interval
                try:
                    result = self._round(provider, job_ids, options["workers"], older_than, stop)
                    failures = 0
                except Exception as exc:
                    if not options["watch"]:
                        raise
                    failures += 1
                    wait = backoff(failures, interval)
                    # The traceback once per outage; then a line per round.
                    log = logger.exception if failures == 1 else logger.warning
                    log("sync round failed (%d in a row): %s", failures, type(exc).__name__)
                    self.stderr.write(
                        f"sync round failed ({type(exc).__name__}: {exc}); "
                        f"{failures} in a row, next round in {wait:g} s"
                    )
                    close_connections()
                if not options["watch"] or _sleep(wait, stop):
                    break
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if stop.is_set():
            self.stdout.write("Stopped.")
            if options["watch"]:
                return  # asked to stop: not a failure of the watcher
        if result is not None and result.failed:
            raise CommandError(f"{result.failed} job(s) failed to sync.", returncode=1)

    def _round(
        self,
        provider: str | None,
        job_ids: list[str] | None,
        workers: int,
        older_than: float | None,
        stop: threading.Event,
    ) -> SyncResult:
        """One round: settle pending creates, sync, deliver webhooks, clean up uploads."""
        if not job_ids:
            self._settle_pending(provider)
        result = sync_jobs(
            provider=provider,
            job_ids=job_ids,
            workers=workers,
            older_than=older_than,
            progress=self._progress if self.stdout.isatty() else None,
            should_stop=stop.is_set,
        )
        self._report(result)
        if not job_ids:
            noticed = notify_approaching()
            if noticed:
                self.stdout.write(f"shutdown notices queued: {noticed}")
        # What the round made due, for a bounded time: slow receivers wait.
        deliveries = deliver_due(should_stop=stop.is_set, budget_seconds=ROUND_BUDGET_SECONDS)
        if deliveries.attempted:
            self.stdout.write(deliveries.summary())
        if not job_ids:
            self._clean_up_uploads()
        return result

    def _clean_up_uploads(self) -> None:
        """Expired and cancelled uploads free their disk space (and their
        upstream uploads) in every round; a line only when something happened."""
        cleanup = clean_up_uploads()
        for upload_id, message in cleanup.failures:
            self.stderr.write(f"{upload_id}: {message}")
        if cleanup.anything:
            self.stdout.write(cleanup.summary())

    def _on_interrupt(self, stop: threading.Event) -> dict[int, Any]:
        """First Ctrl-C (or SIGTERM) asks the round to stop after its batch;
        the second one interrupts. Returns the handlers to restore. Only the
        main thread may install handlers."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            self.stderr.write("\nStopping after the current batch (Ctrl-C again to abort).")

        return {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}

    def _settle_pending(self, provider: str | None) -> None:
        """Creates whose request is over and whose outcome is unknown: linked,
        failed, or flagged for an admin (see ``services.ledger.reconcile``)."""
        clean_spool()
        counts = reconcile_pending(provider=provider)
        if any(counts.values()):
            self.stdout.write(
                "pending creates: " + " ".join(f"{name}={count}" for name, count in counts.items())
            )

    def _progress(self, result: SyncResult) -> None:
        self.stdout.write(
            f"\rchecked={result.checked} changed={result.changed} failed={result.failed}",
            ending="",
        )
        self.stdout.flush()

    def _report(self, result: SyncResult) -> None:
        if self.stdout.isatty() and result.checked:
            self.stdout.write("")  # end the progress line
        for job_id, message in result.failures:
            self.stderr.write(f"{job_id}: {message}")
        self.stdout.write(result.summary())
