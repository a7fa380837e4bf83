"""Completions whose request is over, settled like a pending create.

``complete`` marks the upload ``completing`` (``updated`` is its heartbeat,
renewed while the parts are read), records the file (still ``pending``) and
points the upload at it before the upstream call. A worker that dies
mid-way leaves the upload ``completing``; once no heartbeat has come for
the entry's request limit, the completion is over and is settled from its
file: found upstream → the upload is ``completed`` with it; provably absent
(or no file recorded yet) → ``pending`` again, to be completed or
cancelled; the provider cannot tell → left as it is (the file row is
flagged for an admin, ``ledger.reconcile``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from ...conf import FILES, gateway
from ...models import LedgerState, Upload
from ..ledger.reconcile import reconcile, reconcile_file, request_limit
from .states import Status, free_storage


def completion_over(row: Upload) -> bool:
    """Whether a ``completing`` upload's request is surely over."""
    provider = gateway().provider(FILES, row.provider)
    limit: timedelta = request_limit(provider)
    return row.status == Status.COMPLETING and row.updated <= timezone.now() - limit


def settle_completion(row: Upload) -> str:
    """Settle ``row`` (as just read) if its completion's request is over;
    the completion's ledger state afterwards: ``ok`` (completed), ``failed``
    (nothing in flight: pending, ended, or made completable again),
    ``pending`` (still running, or the provider did not answer) or
    ``unknown``."""
    if row.status == Status.COMPLETED:
        return LedgerState.OK
    if row.status != Status.COMPLETING:
        return LedgerState.FAILED
    if not completion_over(row):
        return LedgerState.PENDING
    still = Upload.objects.filter(pk=row.pk, status=Status.COMPLETING, updated=row.updated)
    file_row = row.file
    state = LedgerState.FAILED if file_row is None else reconcile_file(file_row)
    if state == LedgerState.OK:
        if still.update(status=Status.COMPLETED, remote_open=False, error=""):
            row.status, row.remote_open = Status.COMPLETED, False
            free_storage(row)
        return LedgerState.OK
    if state == LedgerState.FAILED:
        reason = "The completion was interrupted before the file was created; complete again."
        if still.update(status=Status.PENDING, file=None, error=reason, updated=timezone.now()):
            row.status, row.file = Status.PENDING, None
        return LedgerState.FAILED
    return state


def settle_row(row: Any) -> str:
    """Settle a row an Idempotency-Key claim was tied to: an upload's
    completion here, a file or a job by ``ledger.reconcile``."""
    return settle_completion(row) if isinstance(row, Upload) else reconcile(row)
