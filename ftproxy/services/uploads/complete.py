"""Completing an upload: the parts read once in the order given (SHA-256,
MD5, the fine-tune validation), then the file created upstream, forwarded
or sent whole (see ``service``)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from ...conf import FILES
from ...errors import InvalidRequest, ProviderError
from ...models import File, Upload, UploadPart
from ...providers.base import Provider
from ...providers.data import FileUpload, RemoteFile
from ..files.scan import scan_upload
from ..files.service import store_file
from ..ledger.common import provider_of
from ..ledger.context import CallContext
from . import store as upload_store
from .settle import settle_completion
from .states import Status, check_open, error_message, free_storage, locate_upload


def complete_upload(
    ctx: CallContext, upload_id: str, *, part_ids: list[str], md5: str | None
) -> Upload:
    """Check the parts, read them once in order (hash, MD5, fine-tune
    validation), then create the file upstream; the upload is ``completed``
    with its ``file``. Any refusal or failure leaves the upload pending."""
    ctx.note(action="uploads.complete")
    row = locate_upload(ctx, upload_id)
    settle_completion(row)
    check_open(row)
    parts = _ordered_parts(row, part_ids)
    total = sum(part.bytes for part in parts)
    if total != row.bytes:
        raise InvalidRequest(
            f"The parts hold {total} bytes but the upload declared bytes={row.bytes}.",
            param="bytes",
        )
    claimed = Upload.objects.filter(pk=row.pk, status=Status.PENDING).update(
        status=Status.COMPLETING, updated=timezone.now()
    )
    if not claimed:
        row.refresh_from_db()
        check_open(row)
        raise InvalidRequest(
            f"Upload {row.public_id} is already being completed.",
            param="upload_id",
            code="upload_in_progress",
        )
    row.status = Status.COMPLETING
    try:
        _follow(ctx, row)
        file_row, remote_payload = _finish(ctx, row, parts, md5)
    except BaseException as exc:
        Upload.objects.filter(pk=row.pk, status=Status.COMPLETING).update(
            status=Status.PENDING, file=None, error=error_message(exc)[:2000]
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


def _follow(ctx: CallContext, row: Upload) -> None:
    """Tie the request to the upload: an ``Idempotency-Key`` claim points at
    it (settled by ``settle_completion`` if the worker dies), and the file
    row, once recorded, is the upload's before anything is sent."""
    tie = ctx.on_record
    if tie is not None:
        tie(row, provider_of(FILES, row))

    def recorded(file_row: File, provider: Provider) -> None:
        Upload.objects.filter(pk=row.pk, status=Status.COMPLETING).update(
            file=file_row, updated=timezone.now()
        )
        if tie is not None:
            tie(row, provider)

    ctx.on_record = recorded


def _heartbeat(row: Upload):
    """Renews ``updated`` while the parts are read (``settle``: a completion
    with no heartbeat for its request limit is over). Only from the request's
    own thread (no stray connections), and never failing the read."""
    owner = threading.get_ident()

    def beat() -> None:
        if threading.get_ident() != owner:
            return
        with contextlib.suppress(DatabaseError):
            Upload.objects.filter(pk=row.pk, status=Status.COMPLETING).update(
                updated=timezone.now()
            )

    return beat


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
    parts = [known[part_id] for part_id in part_ids]
    for part in parts:
        if not part.remote_id:
            raise InvalidRequest(
                f"part_ids: part {part.public_id} has not been stored: its request has not "
                "finished, or failed; send that part again (GET "
                f"/v1/uploads/{row.public_id}/parts lists the parts stored).",
                param="part_ids",
                code="upload_part_incomplete",
            )
        if not row.remote_id:
            stored = upload_store.stored_size(row.public_id, part.public_id)
            if stored != part.bytes:
                held = "is missing" if stored is None else f"holds {stored} bytes"
                raise InvalidRequest(
                    f"part_ids: part {part.public_id} of {part.bytes} bytes {held} in the "
                    "parts' storage; send that part again.",
                    param="part_ids",
                    code="upload_part_incomplete",
                )
    return parts


def _finish(
    ctx: CallContext, row: Upload, parts: list[UploadPart], md5: str | None
) -> tuple[File, dict[str, Any]]:
    provider = provider_of(FILES, row)
    reader = upload_store.PartsReader(
        [upload_store.part_name(row.public_id, part.public_id) for part in parts],
        [part.bytes for part in parts],
        on_progress=_heartbeat(row),
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
