"""Uploads (OpenAI's Uploads API) on every provider entry.

Every part is kept on disk under ``$FTPROXY_VAR_DIR/uploads/<upload id>/``
until the upload ends. Two ways to the provider:

- an entry whose upstream has an Uploads API (``forwards_uploads``: OpenAI)
  gets each part forwarded as it arrives, streamed from the stored copy,
  and ``complete`` forwarded once the gateway has read the parts in the
  final order;
- every other entry (Azure, Vertex AI, the sandbox) gets nothing until
  ``complete``, which sends the parts, in order, as one streamed upload
  through the entry's ``upload_file``.

Either way ``complete`` first reads the parts once, in the order given, as
one stream: SHA-256, MD5 (when the client sends one) and, for
``purpose=fine-tune``, the line-by-line validation of ``POST /v1/files``.
A bad file is refused before anything final happens upstream. The local
copy is what makes this possible for forwarded uploads too: the part order
is only known at ``complete``, so lines that straddle parts can only be
checked then.
"""

from __future__ import annotations

import errno
import io
import shutil
import time
from dataclasses import replace
from typing import IO, Any

from django.db.models import F

from ..conf import FILES, gateway
from ..errors import GatewayError, InvalidRequest, TooLarge
from ..models import File, Upload, UploadPart, mint_id
from ..providers.base import (
    FileUpload,
    Provider,
    ProviderError,
    ProviderNotFound,
    RemoteFile,
    UploadCreate,
)
from . import upload_store
from .common import choose_provider, not_found, provider_of
from .context import CallContext
from .files import scan_upload, store_file

#: As on OpenAI: an upload accepts parts for one hour.
UPLOAD_TTL_SECONDS = 3600
#: As on OpenAI: each part is at most 64 MB.
MAX_PART_BYTES = 64 * 1024 * 1024
#: A part is refused while storing it would leave less than this free on
#: the disk that holds the parts (the ledger's database may share it), or
#: less than 5% of a disk too small for that.
MIN_FREE_BYTES = 1024 * 1024 * 1024
Status = Upload.Status
OPEN = (Status.PENDING, Status.COMPLETING)


def _now() -> int:
    return int(time.time())


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


# --------------------------------------------------------------------------
# Create
# --------------------------------------------------------------------------


def create_upload(
    ctx: CallContext,
    *,
    filename: str,
    purpose: str,
    size: int,
    mime_type: str,
    expires_after: dict[str, Any] | None,
    entry: str | None,
) -> Upload:
    """Record a pending upload (and open the upstream one when the entry
    forwards uploads)."""
    ctx.note(action="uploads.create")
    limit = gateway().max_upload_total_bytes
    if size > limit:
        raise TooLarge(
            f"The upload declares {size} bytes; this gateway accepts uploads up to "
            f"{limit // (1024 * 1024)} MB (ftproxy_settings.max_upload_total_mb).",
            param="bytes",
        )
    provider = choose_provider(FILES, entry)
    ctx.note(provider=provider.name)
    if not provider.forwards_uploads:
        # What the entry's upload_file would refuse at complete, refused now.
        provider.check_upload(
            FileUpload(
                filename=filename,
                purpose=purpose,
                stream=io.BytesIO(),
                size=size,
                content_type=mime_type,
                expires_after=expires_after,
            )
        )
    now = _now()
    row = Upload.objects.create(
        public_id=mint_id("upload"),
        provider=provider.name,
        provider_kind=provider.kind,
        owner=ctx.caller.key,
        filename=filename,
        purpose=purpose,
        mime_type=mime_type,
        bytes=size,
        expires_after=expires_after,
        created_at=now,
        expires_at=now + UPLOAD_TTL_SECONDS,
    )
    ctx.note(object_id=row.public_id)
    if provider.forwards_uploads:
        request = UploadCreate(
            filename=filename,
            purpose=purpose,
            bytes=size,
            mime_type=mime_type,
            expires_after=expires_after,
        )
        try:
            remote = ctx.upstream(provider, provider.create_upload, request)
        except Exception as exc:
            _close(row, Status.CANCELLED, error=_message(exc))
            raise
        row.remote_id = remote.remote_id
        row.remote_open = True
        row.provider_payload = remote.raw
        if remote.expires_at:
            row.expires_at = min(row.expires_at, int(remote.expires_at))
        row.save(update_fields=["remote_id", "remote_open", "provider_payload", "expires_at"])
    return row


# --------------------------------------------------------------------------
# Parts
# --------------------------------------------------------------------------


def _short_of_space(free: int | None) -> GatewayError:
    known = f" ({free // (1024 * 1024)} MB free)" if free is not None else ""
    return GatewayError(
        f"The gateway is short of disk space for upload parts{known}; try again later.",
        param="data",
        code="insufficient_storage",
        status_code=507,
        error_type="server_error",
    )


def check_room(size: int) -> None:
    """507 unless a part of ``size`` bytes fits on the parts' disk with
    ``MIN_FREE_BYTES`` to spare. Asked before the part is read."""
    root = upload_store.uploads_root()
    root.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(root)
    if usage.free - size < reserve_bytes(usage.total):
        raise _short_of_space(usage.free)


def reserve_bytes(total: int) -> int:
    """What must stay free on a disk of ``total`` bytes."""
    return min(MIN_FREE_BYTES, total // 20)


def add_part(
    ctx: CallContext,
    upload_id: str,
    *,
    stream: IO[bytes],
    size: int,
    source_path: str | None = None,
) -> UploadPart:
    """Store one part on disk (forwarding it upstream when the entry
    forwards uploads). ``source_path`` is the spooled temporary file, moved
    into place rather than copied when it can be."""
    ctx.note(action="uploads.parts.create")
    row = _locate(ctx, upload_id)
    if size > MAX_PART_BYTES:
        raise TooLarge(
            f"The part is {size} bytes; each part may be at most {_mb(MAX_PART_BYTES)}.",
            param="data",
        )
    if size <= 0:
        raise InvalidRequest("The part is empty.", param="data")
    _check_takes_parts(row)
    # Reserve the bytes first: parallel parts can never overshoot the total.
    reserved = Upload.objects.filter(
        pk=row.pk, status=Status.PENDING, bytes_received__lte=row.bytes - size
    ).update(bytes_received=F("bytes_received") + size)
    if not reserved:
        row.refresh_from_db()
        _check_takes_parts(row)
        raise InvalidRequest(
            f"This part of {size} bytes would take the upload past its declared {row.bytes} "
            f"bytes ({row.bytes_received} received so far).",
            param="data",
        )
    part = UploadPart.objects.create(
        upload=row, public_id=mint_id("part"), bytes=size, created_at=_now()
    )
    try:
        try:
            stored = upload_store.save_part(row.public_id, part.public_id, stream, source_path)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise _short_of_space(None) from exc
        if stored != size:
            raise InvalidRequest(f"The part ended after {stored} of {size} bytes.", param="data")
        if row.remote_id:
            provider = provider_of(FILES, row)
            with open(upload_store.part_path(row.public_id, part.public_id), "rb") as saved:
                part.remote_id = ctx.upstream(
                    provider, provider.add_upload_part, row.remote_id, saved, size
                )
            part.save(update_fields=["remote_id"])
    except BaseException as exc:
        upload_store.delete_part(row.public_id, part.public_id)
        part.delete()
        Upload.objects.filter(pk=row.pk).update(
            bytes_received=F("bytes_received") - size, error=_message(exc)[:2000]
        )
        raise
    ctx.note(object_id=part.public_id)
    if not Upload.objects.filter(pk=row.pk, status__in=OPEN).exists():
        # Cancelled or expired while this part was on its way: do not leave it behind.
        upload_store.delete_part(row.public_id, part.public_id)
    part.upload = row
    return part


# --------------------------------------------------------------------------
# Complete
# --------------------------------------------------------------------------


def complete_upload(
    ctx: CallContext, upload_id: str, *, part_ids: list[str], md5: str | None
) -> Upload:
    """Check the parts, read them once in order (hash, MD5, fine-tune
    validation), then create the file upstream; the upload is ``completed``
    with its ``file``. Any refusal or failure leaves the upload pending."""
    ctx.note(action="uploads.complete")
    row = _locate(ctx, upload_id)
    _check_open(row)
    parts = _ordered_parts(row, part_ids)
    total = sum(part.bytes for part in parts)
    if total != row.bytes:
        raise InvalidRequest(
            f"The parts hold {total} bytes but the upload declared bytes={row.bytes}.",
            param="bytes",
        )
    claimed = Upload.objects.filter(pk=row.pk, status=Status.PENDING).update(
        status=Status.COMPLETING
    )
    if not claimed:
        row.refresh_from_db()
        _check_open(row)
        raise InvalidRequest(
            f"Upload {row.public_id} is already being completed.",
            param="upload_id",
            code="upload_in_progress",
        )
    row.status = Status.COMPLETING
    try:
        file_row, remote_payload = _finish(ctx, row, parts, md5)
    except BaseException as exc:
        Upload.objects.filter(pk=row.pk, status=Status.COMPLETING).update(
            status=Status.PENDING, error=_message(exc)[:2000]
        )
        raise
    row.status = Status.COMPLETED
    row.file = file_row
    row.remote_open = False
    row.md5 = md5 or ""
    row.error = ""
    if remote_payload:
        row.provider_payload = remote_payload
    row.save(update_fields=["status", "file", "remote_open", "md5", "error", "provider_payload"])
    free_storage(row)
    return row


def _ordered_parts(row: Upload, part_ids: list[str]) -> list[UploadPart]:
    if not part_ids:
        raise InvalidRequest("part_ids must list the upload's parts in order.", param="part_ids")
    seen: set[str] = set()
    for part_id in part_ids:
        if part_id in seen:
            raise InvalidRequest(f"part_ids lists {part_id} twice.", param="part_ids")
        seen.add(part_id)
    known = {part.public_id: part for part in row.parts.filter(public_id__in=part_ids)}
    for part_id in part_ids:
        if part_id not in known:
            raise InvalidRequest(
                f"part_ids: {part_id} is not a part of upload {row.public_id}.",
                param="part_ids",
            )
    return [known[part_id] for part_id in part_ids]


def _finish(
    ctx: CallContext, row: Upload, parts: list[UploadPart], md5: str | None
) -> tuple[File, dict[str, Any]]:
    provider = provider_of(FILES, row)
    reader = upload_store.PartsReader(
        [upload_store.part_path(row.public_id, part.public_id) for part in parts],
        [part.bytes for part in parts],
    )
    try:
        # MD5 only when the client gave one to check (it costs as much as SHA-256).
        hashing = upload_store.Md5Reader(reader) if md5 else None
        scan = scan_upload(hashing or reader, row.purpose)
        if hashing and md5 and md5.lower() != hashing.hexdigest():
            raise InvalidRequest(
                f"md5 {md5} does not match the parts' MD5 {hashing.hexdigest()}.", param="md5"
            )
        upstream: dict[str, Any] = {}
        if row.remote_id:
            send = _forwarded_complete(provider, row, parts, md5, upstream)
        else:
            reader.seek(0)
            upload = FileUpload(
                filename=row.filename,
                purpose=row.purpose,
                stream=reader,
                size=scan.size,
                content_type=row.mime_type or "application/octet-stream",
                expires_after=row.expires_after,
            )

            def send(gateway_id: str) -> RemoteFile:
                return provider.upload_file(replace(upload, gateway_id=gateway_id))

        file_row = store_file(
            ctx,
            provider,
            scan=scan,
            owner=row.owner,
            filename=row.filename,
            purpose=row.purpose,
            expires_after=row.expires_after,
            send=send,
        )
        ctx.note(object_id=row.public_id)
        return file_row, upstream
    finally:
        reader.close()


def _forwarded_complete(
    provider: Provider,
    row: Upload,
    parts: list[UploadPart],
    md5: str | None,
    upstream: dict[str, Any],
):
    """The upstream ``complete`` call, answering the file it created."""

    def send(gateway_id: str) -> RemoteFile:  # the upstream upload has its own id
        remote = provider.complete_upload(row.remote_id, [p.remote_id for p in parts], md5)
        upstream.update(remote.raw)
        if remote.file is None:
            raise ProviderError(
                f"The provider '{provider.name}' completed upload {row.remote_id} without a file.",
                provider=provider.name,
                body=remote.raw,
            )
        return remote.file

    return send


# --------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------


def cancel_upload(ctx: CallContext, upload_id: str) -> Upload:
    """Cancel a pending upload (upstream too) and free its parts. Cancelling
    a cancelled or expired upload answers it as it is."""
    ctx.note(action="uploads.cancel")
    row = _locate(ctx, upload_id)
    _expire_if_due(row)
    if row.status in (Status.CANCELLED, Status.EXPIRED):
        return row
    if row.status != Status.PENDING:
        _check_open(row)  # completed: 400
        raise InvalidRequest(
            f"Upload {row.public_id} is being completed and cannot be cancelled.",
            param="upload_id",
            code="upload_in_progress",
        )
    if row.remote_open:
        provider = provider_of(FILES, row)
        try:
            ctx.upstream(provider, provider.cancel_upload, row.remote_id)
        except ProviderNotFound:
            pass  # gone upstream already
    if not Upload.objects.filter(pk=row.pk, status=Status.PENDING).update(
        status=Status.CANCELLED, remote_open=False
    ):
        row.refresh_from_db()
        _check_open(row)
    row.status, row.remote_open = Status.CANCELLED, False
    free_storage(row)
    return row


# --------------------------------------------------------------------------
# Finding, states, cleanup
# --------------------------------------------------------------------------


def _locate(ctx: CallContext, upload_id: str) -> Upload:
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


def _expire_if_due(row: Upload) -> None:
    if row.status == Status.PENDING and _now() >= row.expires_at:
        if Upload.objects.filter(pk=row.pk, status=Status.PENDING).update(status=Status.EXPIRED):
            row.status = Status.EXPIRED


def _check_open(row: Upload) -> None:
    """400 unless the upload still takes parts and completion."""
    _expire_if_due(row)
    if row.status in OPEN:
        return
    raise InvalidRequest(
        f"Upload {row.public_id} is {row.status}: it no longer accepts parts or completion.",
        param="upload_id",
        code=f"upload_{row.status}",
    )


def _check_takes_parts(row: Upload) -> None:
    """400 unless the upload is pending (not ended, not being completed)."""
    _check_open(row)
    if row.status == Status.COMPLETING:
        raise InvalidRequest(
            f"Upload {row.public_id} is being completed: it no longer accepts parts.",
            param="upload_id",
            code="upload_in_progress",
        )


def _close(row: Upload, status: str, *, error: str = "") -> None:
    row.status, row.error, row.remote_open = status, error[:2000], False
    row.save(update_fields=["status", "error", "remote_open"])
    free_storage(row)


def free_storage(row: Upload) -> None:
    upload_store.free(row.public_id)
    Upload.objects.filter(pk=row.pk).update(storage_freed=True)
    row.storage_freed = True


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
