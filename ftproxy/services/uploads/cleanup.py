"""Freeing what uploads leave behind, in each ``ftproxy_sync_jobs`` round:
completions whose worker died are settled, parts never stored free their
bytes, pending uploads past their hour expire, their upstream uploads are
cancelled, and the stored parts of every upload that has ended are deleted
(through the parts' storage)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.utils import timezone

from ...conf import FILES, gateway
from ...errors import ProviderError, ProviderNotFound
from ...models import LedgerState, Upload, UploadPart
from ..ledger.reconcile import request_limit
from . import store as upload_store
from .service import release_abandoned_parts
from .settle import settle_completion
from .states import OPEN, UPLOAD_TTL_SECONDS, Status, free_storage


@dataclass
class CleanupResult:
    """What one cleanup round did."""

    expired: int = 0
    settled: int = 0
    cancelled_upstream: int = 0
    freed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"uploads: expired={self.expired} cancelled_upstream={self.cancelled_upstream} "
            f"freed={self.freed} failed={len(self.failures)} settled={self.settled}"
        )

    @property
    def anything(self) -> bool:
        return bool(
            self.expired or self.settled or self.cancelled_upstream or self.freed or self.failures
        )


def clean_up_uploads() -> CleanupResult:
    """Expire pending uploads past their hour, cancel their upstream
    uploads, and delete the stored parts of every upload that has ended.
    Run by each ``ftproxy_sync_jobs`` round; safe to run concurrently."""
    result = CleanupResult()
    now = int(time.time())
    result.expired = Upload.objects.filter(status=Status.PENDING, expires_at__lte=now).update(
        status=Status.EXPIRED
    )
    # Completions whose request is over (the worker died) settle from their
    # file; parts whose request ended before they were stored free their bytes.
    over = timezone.now() - request_limit()
    for row in Upload.objects.filter(status=Status.COMPLETING, updated__lt=over):
        if settle_completion(row) in (LedgerState.OK, LedgerState.FAILED):
            result.settled += 1
    oldest = now - int(request_limit().total_seconds())
    abandoned = UploadPart.objects.filter(
        remote_id="", created_at__lt=oldest, upload__status=Status.PENDING
    )
    for row in Upload.objects.filter(pk__in=abandoned.values("upload_id")):
        result.freed += release_abandoned_parts(row)
    # A complete still "running" an hour after the upload expired belongs to
    # a worker that died mid-way: nothing will finish it.
    result.expired += Upload.objects.filter(
        status=Status.COMPLETING, expires_at__lte=now - UPLOAD_TTL_SECONDS
    ).update(status=Status.EXPIRED)
    ended = (Status.CANCELLED, Status.EXPIRED)
    for row in Upload.objects.filter(status__in=ended, remote_open=True):
        provider = gateway().provider(FILES, row.provider)
        if provider is None:
            result.failures.append((row.public_id, f"entry {row.provider!r} is not configured"))
            continue
        try:
            provider.cancel_upload(row.remote_id)
        except ProviderNotFound:
            pass
        except ProviderError as exc:
            # An upstream upload that is already over (expired there) is a 4xx:
            # nothing more to cancel. Anything else is tried again next round.
            if not 400 <= (exc.upstream_status or 0) < 500:
                result.failures.append((row.public_id, exc.message))
                continue
        Upload.objects.filter(pk=row.pk).update(remote_open=False)
        result.cancelled_upstream += 1
    for row in Upload.objects.filter(storage_freed=False).exclude(status__in=OPEN):
        free_storage(row)
        result.freed += 1
    # A part still being parsed lives an hour at most; older ones were left
    # by a worker that died mid-request.
    for stale in upload_store.stale_incoming(now - UPLOAD_TTL_SECONDS):
        stale.unlink(missing_ok=True)
        result.freed += 1
    return result
