"""The sync's worker threads: they fetch leased jobs from their providers
and never touch the database (``sync.sync_jobs`` records their answers)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime

from django.utils import timezone

from ...errors import GatewayError, ProviderError
from ...models import FineTuningJob
from ...providers.data import RemoteJob
from ..ledger.context import MASTER, CallContext
from .service import fetch_job

logger = logging.getLogger("ftproxy.sync")

#: A job a thread takes more than this long after its renewal goes back to
#: be renewed again (the renewal covers the call with 60 s to spare).
RENEWAL_VALID_SECONDS = 30.0

#: A fetched job: the provider's answer, or the error message, and when
#: the call started (an answer is no older than that).
Answer = tuple[RemoteJob | None, str | None, datetime]


class Fetchers:
    """``count`` threads that take renewed jobs from a queue, fetch each from
    its provider and put the answer on another; they never touch the
    database. With ``count`` 0 there are no threads: ``put`` fetches in the
    caller's thread. A job taken more than ``RENEWAL_VALID_SECONDS`` after
    its renewal is answered with None, to be renewed again."""

    def __init__(self, count: int) -> None:
        self._todo: queue.SimpleQueue[tuple[FineTuningJob, float] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[FineTuningJob, Answer | None]] = queue.SimpleQueue()
        #: Jobs put whose answer has not been taken yet.
        self.outstanding = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"ftproxy-sync-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, job: FineTuningJob, renewed: float) -> None:
        """Queue ``job`` (its lease renewed at ``renewed``, a ``time.monotonic``)
        for a thread; with no threads, fetch it now."""
        self.outstanding += 1
        if self._threads:
            self._todo.put((job, renewed))
        else:
            self._done.put((job, fetch(job)))

    def waiting(self) -> int:
        """Jobs put that no thread has taken yet."""
        return self._todo.qsize()

    def take(self, timeout: float) -> list[tuple[FineTuningJob, Answer | None]]:
        """The answers there are, waiting up to ``timeout`` for a first one."""
        answers = []
        try:
            answers.append(self._done.get(timeout=timeout) if timeout else self._done.get_nowait())
            while True:
                answers.append(self._done.get_nowait())
        except queue.Empty:
            pass
        self.outstanding -= len(answers)
        threads = self._threads
        if timeout and threads and not answers and not any(t.is_alive() for t in threads):
            raise RuntimeError("every sync thread has ended")
        return answers

    def withdraw(self) -> list[FineTuningJob]:
        """Take back the jobs no thread has taken yet."""
        jobs = []
        try:
            while True:
                item = self._todo.get_nowait()
                if item is not None:
                    jobs.append(item[0])
        except queue.Empty:
            pass
        self.outstanding -= len(jobs)
        return jobs

    def close(self) -> None:
        """Stop the threads once their calls in flight are answered."""
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            job, renewed = item
            if time.monotonic() - renewed > RENEWAL_VALID_SECONDS:
                self._done.put((job, None))
                continue
            try:
                answer = fetch(job)
            except BaseException as exc:  # the thread ends; its job is answered all the same
                self._done.put((job, (None, f"{type(exc).__name__}: {exc}", timezone.now())))
                raise
            self._done.put((job, answer))


def fetch(job: FineTuningJob) -> Answer:
    """The provider's answer for one leased job (run in a worker thread: the
    upstream call only, no database), or the error message; with the
    time the call started."""
    started = timezone.now()
    try:
        return fetch_job(CallContext(caller=MASTER), job, "retrieve"), None, started
    except (ProviderError, GatewayError) as exc:
        message = exc.message or type(exc).__name__
        logger.warning("sync of %s failed: %s", job.public_id, message)
    except Exception as exc:  # a bug: keep syncing the others
        message = f"{type(exc).__name__}: {exc}"
        logger.exception("sync of %s failed unexpectedly", job.public_id)
    return None, message, started
