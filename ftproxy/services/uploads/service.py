"""Uploads (OpenAI's Uploads API) on every provider entry.

Every part is kept in the parts' storage (``store``: the ``ftproxy-uploads``
storage, shared by every host when it is an object store) until the upload
ends. Two ways to the provider:

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
import logging
import shutil
from typing import IO, Any

from django.db.models import F

from ...conf import FILES, gateway
from ...errors import GatewayError, InvalidRequest, ProviderError, ProviderNotFound, TooLarge
from ...models import Upload, UploadPart, mint_id
from ...providers.data import FileUpload, UploadCreate
from ..accounts.allowlist import check_allowed
from ..ledger.common import choose_provider, provider_of
from ..ledger.context import CallContext
from ..ledger.reconcile import request_limit
from . import store as upload_store
from .settle import settle_completion
from .states import (
    OPEN,
    UPLOAD_TTL_SECONDS,
    Status,
    check_open,
    check_takes_parts,
    close_upload,
    error_message,
    expire_if_due,
    free_storage,
    locate_upload,
    seconds_now,
)

logger = logging.getLogger("ftproxy.uploads")

#: As on OpenAI: each part is at most 64 MB.
MAX_PART_BYTES = 64 * 1024 * 1024
#: A part is refused while storing it would leave less than this free on
#: the disk that holds the parts (the ledger's database may share it), or
#: less than 5% of a disk too small for that.
MIN_FREE_BYTES = 1024 * 1024 * 1024


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
    check_allowed(ctx, provider)
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
    now = seconds_now()
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
            close_upload(row, Status.CANCELLED, error=error_message(exc))
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


def _storage_failed(exc: Exception) -> GatewayError:
    logger.warning("the parts' storage failed: %s: %s", type(exc).__name__, exc)
    return GatewayError(
        "The gateway could not store the part; send it again shortly.",
        param="data",
        code="storage_unavailable",
        status_code=503,
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
    """Store one part in the parts' storage (forwarding it upstream when the
    entry forwards uploads). ``source_path`` is the spooled local file,
    moved into place rather than copied when it can be.

    The part's bytes are reserved on the upload first; the part counts as
    stored once its ``remote_id`` is set (the upstream part id, or its name
    in the storage). A part whose request ended before that frees its
    reservation: at once when the request fails, else once its request's
    time limit is over (``release_abandoned_parts``), so it can be resent."""
    ctx.note(action="uploads.parts.create")
    row = locate_upload(ctx, upload_id)
    if size > MAX_PART_BYTES:
        raise TooLarge(
            f"The part is {size} bytes; each part may be at most {_mb(MAX_PART_BYTES)}.",
            param="data",
        )
    if size <= 0:
        raise InvalidRequest("The part is empty.", param="data")
    settle_completion(row)
    check_takes_parts(row)
    # Reserve the bytes first: parallel parts can never overshoot the total.
    if not _reserve(row, size) and not (release_abandoned_parts(row) and _reserve(row, size)):
        row.refresh_from_db()
        check_takes_parts(row)
        raise InvalidRequest(
            f"This part of {size} bytes would take the upload past its declared {row.bytes} "
            f"bytes ({row.bytes_received} received so far; GET /v1/uploads/{row.public_id}/parts "
            "lists the parts stored).",
            param="data",
        )
    part = UploadPart.objects.create(
        upload=row, public_id=mint_id("part"), bytes=size, created_at=seconds_now()
    )
    try:
        try:
            stored = upload_store.save_part(row.public_id, part.public_id, stream, source_path)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise _storage_failed(exc) from exc
            raise _short_of_space(None) from exc
        except GatewayError:
            raise
        except Exception as exc:  # an object store's own errors
            raise _storage_failed(exc) from exc
        if stored != size:
            raise InvalidRequest(f"The part ended after {stored} of {size} bytes.", param="data")
        name = upload_store.part_name(row.public_id, part.public_id)
        done_as = name
        if row.remote_id:
            provider = provider_of(FILES, row)
            with upload_store.PartsReader([name], [size]) as saved:
                done_as = ctx.upstream(
                    provider, provider.add_upload_part, row.remote_id, saved, size
                )
            if not done_as:
                raise ProviderError(
                    f"The provider '{provider.name}' answered the part without an id.",
                    provider=provider.name,
                )
        if not UploadPart.objects.filter(pk=part.pk, remote_id="").update(remote_id=done_as):
            raise GatewayError(  # released meanwhile: its request took too long
                "The part took too long to store and was dropped; send it again.",
                param="data",
                code="upload_part_expired",
                status_code=503,
                error_type="server_error",
            )
        part.remote_id = done_as
    except BaseException as exc:
        _release(row, part, error=error_message(exc))
        raise
    ctx.note(object_id=part.public_id)
    if not Upload.objects.filter(pk=row.pk, status__in=OPEN).exists():
        # Cancelled or expired while this part was on its way: do not leave it behind.
        upload_store.delete_part(row.public_id, part.public_id)
    part.upload = row
    return part


def _reserve(row: Upload, size: int) -> bool:
    return bool(
        Upload.objects.filter(
            pk=row.pk, status=Status.PENDING, bytes_received__lte=row.bytes - size
        ).update(bytes_received=F("bytes_received") + size)
    )


def _release(row: Upload, part: UploadPart, *, error: str = "") -> bool:
    """Drop a part that was not stored (no ``remote_id``) and free its
    reservation, once: False when it was stored or released already."""
    deleted, _ = UploadPart.objects.filter(pk=part.pk, remote_id="").delete()
    if not deleted:
        return False
    changes: dict[str, Any] = {"bytes_received": F("bytes_received") - part.bytes}
    if error:
        changes["error"] = error[:2000]
    Upload.objects.filter(pk=row.pk).update(**changes)
    try:
        upload_store.delete_part(row.public_id, part.public_id)
    except Exception:  # the storage is unwell: the upload's end frees it
        logger.warning("could not delete part %s of %s", part.public_id, row.public_id)
    return True


def release_abandoned_parts(row: Upload) -> int:
    """Free the parts of ``row`` whose request is over without storing them
    (the worker died, or its answer was lost mid-way); how many."""
    provider = gateway().provider(FILES, row.provider)
    cutoff = seconds_now() - int(request_limit(provider).total_seconds())
    abandoned = row.parts.filter(remote_id="", created_at__lt=cutoff)
    return sum(_release(row, part) for part in abandoned)


def list_parts(ctx: CallContext, upload_id: str) -> tuple[Upload, list[UploadPart]]:
    """The upload's parts, oldest first (an extension of the Uploads API)."""
    ctx.note(action="uploads.parts.list")
    row = locate_upload(ctx, upload_id)
    parts = list(row.parts.order_by("id"))
    for part in parts:
        part.upload = row  # one query for the list
    return row, parts


# --------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------


def cancel_upload(ctx: CallContext, upload_id: str) -> Upload:
    """Cancel a pending upload (upstream too) and free its parts. Cancelling
    a cancelled or expired upload answers it as it is."""
    ctx.note(action="uploads.cancel")
    row = locate_upload(ctx, upload_id)
    settle_completion(row)
    expire_if_due(row)
    if row.status in (Status.CANCELLED, Status.EXPIRED):
        return row
    if row.status != Status.PENDING:
        check_open(row)  # completed: 400
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
        check_open(row)
    row.status, row.remote_open = Status.CANCELLED, False
    free_storage(row)
    return row
