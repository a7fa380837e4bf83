"""An upload's states: finding the caller's upload, checking what it still
takes (parts, completion), its expiry after an hour, its end and the
freeing of its stored parts."""

from __future__ import annotations

import time

from ...errors import InvalidRequest
from ...models import Upload
from ..ledger.common import not_found
from ..ledger.context import CallContext
from . import store as upload_store

#: As on OpenAI: an upload accepts parts for one hour.
UPLOAD_TTL_SECONDS = 3600
Status = Upload.Status
OPEN = (Status.PENDING, Status.COMPLETING)


def seconds_now() -> int:
    """The time in whole seconds, as uploads keep it."""
    return int(time.time())


def locate_upload(ctx: CallContext, upload_id: str) -> Upload:
    """The caller's upload (any for the master key); another key's is 404."""
    ctx.note(object_id=upload_id)
    queryset = Upload.objects.select_related("file").filter(public_id=upload_id)
    if not ctx.caller.is_master:
        queryset = queryset.filter(owner=ctx.caller.key)
    row = queryset.first()
    if row is None:
        raise not_found("upload", upload_id)
    ctx.note(provider=row.provider)
    return row


def expire_if_due(row: Upload) -> None:
    """Mark a pending upload past its hour ``expired``."""
    if row.status == Status.PENDING and seconds_now() >= row.expires_at:
        if Upload.objects.filter(pk=row.pk, status=Status.PENDING).update(status=Status.EXPIRED):
            row.status = Status.EXPIRED


def check_open(row: Upload) -> None:
    """400 unless the upload still takes parts and completion."""
    expire_if_due(row)
    if row.status in OPEN:
        return
    raise InvalidRequest(
        f"Upload {row.public_id} is {row.status}: it no longer accepts parts or completion.",
        param="upload_id",
        code=f"upload_{row.status}",
    )


def check_takes_parts(row: Upload) -> None:
    """400 unless the upload is pending (not ended, not being completed)."""
    check_open(row)
    if row.status == Status.COMPLETING:
        raise InvalidRequest(
            f"Upload {row.public_id} is being completed: it no longer accepts parts.",
            param="upload_id",
            code="upload_in_progress",
        )


def close_upload(row: Upload, status: str, *, error: str = "") -> None:
    """End the upload with ``status`` (and ``error``) and free its parts."""
    row.status, row.error, row.remote_open = status, error[:2000], False
    row.save(update_fields=["status", "error", "remote_open"])
    free_storage(row)


def free_storage(row: Upload) -> None:
    """Delete the upload's parts from the parts' storage and say so on the row."""
    upload_store.free(row.public_id)
    Upload.objects.filter(pk=row.pk).update(storage_freed=True)
    row.storage_freed = True


def error_message(exc: BaseException) -> str:
    """What the upload's ``error`` says of ``exc``."""
    return getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
