"""Files: record first, call the provider, record the outcome."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, Any

from django.utils import timezone

from ..conf import FILES, gateway
from ..errors import GatewayError, InvalidRequest, TooLarge
from ..models import ApiKey, File, LedgerState, mint_id
from ..providers.base import (
    FileContent,
    FileUpload,
    Provider,
    ProviderError,
    ProviderNotFound,
    RemoteFile,
)
from ..validation import validate_fine_tune_file
from .common import (
    choose_provider,
    locate,
    not_found,
    page,
    provider_of,
    save_adopted,
    visible,
)
from .context import CallContext
from .reconcile import settle_failed_create
from .status import SYNCED_AT_RESOLUTION, describe_file

logger = logging.getLogger("ftproxy.services")

FINE_TUNE = "fine-tune"
READ_CHUNK = 1024 * 1024
#: Hashed inline up to this size (a thread costs more than hashing a small file).
HASH_INLINE_BYTES = 4 * 1024 * 1024
#: Chunks read ahead of the hashing thread, at most (memory: a few MiB).
HASH_QUEUE_CHUNKS = 8


@dataclass
class Scan:
    """What one pass over an upload learned."""

    sha256: str
    size: int
    estimated_tokens: int | None = None
    examples: int | None = None
    max_example_tokens: int | None = None


def check_size(size: int | None) -> None:
    """413 when ``size`` exceeds ``max_upload_mb``."""
    limit = gateway().max_upload_bytes
    if size is not None and size > limit:
        raise TooLarge(
            f"The file is {size} bytes; this gateway accepts uploads up to "
            f"{limit // (1024 * 1024)} MB (ftproxy_settings.max_upload_mb)."
        )


class _HashingReader:
    """Hashes and counts what is read through it.

    Past the first ``HASH_INLINE_BYTES`` the SHA-256 runs on a thread of its
    own, fed the same chunks (``hashlib`` lets go of the GIL while it
    hashes a large buffer), so hashing a big upload overlaps its validation
    instead of adding to it; at most ``HASH_QUEUE_CHUNKS`` chunks wait for
    it. ``hexdigest`` waits for the last chunk; ``close`` stops the thread
    (a scan that raised)."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if not data:
            return data
        self.size += len(data)
        if self._queue is None and self.size > HASH_INLINE_BYTES:
            self._queue = queue.Queue(HASH_QUEUE_CHUNKS)
            self._thread = threading.Thread(target=self._hash, name="ftproxy-sha256", daemon=True)
            self._thread.start()
        if self._queue is None:
            self.digest.update(data)
        else:
            self._queue.put(bytes(data))  # bytes: a caller may reuse a buffer it was given
        return data

    def _hash(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._failed is None:
                try:
                    self.digest.update(chunk)
                except BaseException as exc:  # kept for hexdigest; the reader never blocks
                    self._failed = exc

    def close(self) -> None:
        if self._thread is not None:
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def hexdigest(self) -> str:
        self.close()
        if self._failed is not None:
            raise self._failed
        return self.digest.hexdigest()


def scan_upload(stream: IO[bytes], purpose: str) -> Scan:
    """Hash the upload and, for ``fine-tune``, validate it line by line, in
    one streamed pass. A bad file raises a 400 naming its lines."""
    stream.seek(0)
    reader = _HashingReader(stream)
    estimated_tokens = examples = max_example_tokens = None
    try:
        if purpose == FINE_TUNE:
            validator = validate_fine_tune_file(reader)
            if validator.errors:
                raise InvalidRequest(validator.summary(), param="file", code="invalid_file_format")
            estimated_tokens = validator.estimated_tokens
            examples, max_example_tokens = validator.examples, validator.max_example_tokens
        else:
            while reader.read(READ_CHUNK):
                pass
        sha256 = reader.hexdigest()
    finally:
        reader.close()
    return Scan(
        sha256=sha256,
        size=reader.size,
        estimated_tokens=estimated_tokens,
        examples=examples,
        max_example_tokens=max_example_tokens,
    )


def _apply(row: File, remote: RemoteFile) -> list[str]:
    """Copy the provider's view of the file onto the row; the changed fields.
    ``synced_at`` counts as changed only with another field, or when it is
    older than ``SYNCED_AT_RESOLUTION`` (so an answer that changes nothing
    writes nothing)."""
    values: dict[str, Any] = {
        "status": remote.status,
        "status_details": remote.status_details,
        "raw_status": remote.status,
        "provider_payload": remote.raw,
    }
    if remote.bytes is not None:
        values["bytes"] = remote.bytes
    if remote.created_at:
        values["created_at"] = remote.created_at
    if remote.expires_at is not None:
        values["expires_at"] = remote.expires_at
    if remote.filename:
        values["filename"] = remote.filename
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    now = timezone.now()
    if changed or row.synced_at is None or now - row.synced_at > SYNCED_AT_RESOLUTION:
        row.synced_at = now
        changed.append("synced_at")
    return changed


def create_file(
    ctx: CallContext,
    *,
    stream: IO[bytes],
    size: int,
    filename: str,
    purpose: str,
    content_type: str,
    provider_hint: str | None,
    expires_after: dict[str, Any] | None,
) -> File:
    """Validate, record, upload, record the outcome."""
    check_size(size)
    provider = choose_provider(FILES, provider_hint)
    ctx.note(action="files.create", provider=provider.name)
    scan = scan_upload(stream, purpose)
    stream.seek(0)
    upload = FileUpload(
        filename=filename,
        purpose=purpose,
        stream=stream,
        size=scan.size,
        content_type=content_type or "application/octet-stream",
        expires_after=expires_after,
    )
    return store_file(
        ctx,
        provider,
        scan=scan,
        owner=ctx.caller.key,
        filename=filename,
        purpose=purpose,
        expires_after=expires_after,
        send=lambda gateway_id: provider.upload_file(replace(upload, gateway_id=gateway_id)),
    )


def store_file(
    ctx: CallContext,
    provider: Provider,
    *,
    scan: Scan,
    owner: ApiKey | None,
    filename: str,
    purpose: str,
    expires_after: dict[str, Any] | None,
    send: Callable[[str], RemoteFile],
) -> File:
    """Record the scanned file, call ``send`` (the upstream call that
    creates it, given the row's public id to tag the upload with where the
    provider keeps one), record the outcome. Also how a completed Upload
    becomes a ledger file."""
    now = timezone.now()
    row = File.objects.create(
        public_id=mint_id("file"),
        provider=provider.name,
        provider_kind=provider.kind,
        owner=owner,
        filename=filename,
        purpose=purpose,
        bytes=scan.size,
        sha256=scan.sha256,
        status="uploaded",
        created_at=int(now.timestamp()),
        expires_at=(
            int(now.timestamp()) + int(expires_after["seconds"]) if expires_after else None
        ),
        estimated_tokens=scan.estimated_tokens,
        examples=scan.examples,
        max_example_tokens=scan.max_example_tokens,
    )
    ctx.note(object_id=row.public_id)
    ctx.recorded(row, provider)
    try:
        remote = ctx.upstream(provider, send, row.public_id)
        link_file(row, remote, provider)
    except Exception as exc:
        settle_failed_create(row, exc, reached_provider=ctx.reached_provider)
        raise
    ctx.note(object_id=row.public_id)
    return row


def link_file(row: File, remote: RemoteFile, provider) -> None:
    """Tie the pending row to the file upstream: remote id, public id, the
    provider's view of it and ``ok``, in one save."""
    row.remote_id = remote.remote_id
    if not provider.mints_ids:
        row.public_id = remote.remote_id
    changed = _apply(row, remote)
    row.ledger_state = LedgerState.OK
    row.ledger_error = ""
    row.save(
        update_fields=[
            *changed,
            "remote_id",
            "public_id",
            "ledger_state",
            "ledger_error",
            "updated",
        ]
    )


def list_files(
    ctx: CallContext,
    *,
    purpose: str | None,
    after: str | None,
    limit: int,
    order: str,
    provider_hint: str | None = None,
) -> tuple[list[File], bool]:
    """A page of the caller's files from the ledger (of one provider entry
    when ``provider_hint`` names one)."""
    ctx.note(action="files.list")
    everything = visible(File.objects.defer("provider_payload"), ctx)  # not shown in lists
    if provider_hint:
        everything = everything.filter(provider=choose_provider(FILES, provider_hint).name)
    queryset = everything.filter(deleted=False)
    if purpose:
        queryset = queryset.filter(purpose=purpose)
    rows, has_more = page(
        queryset,
        after=after,
        limit=limit,
        descending=order != "asc",
        kind="file",
        cursors=everything,
    )
    for row in rows:
        if row.bytes is None:  # a result file its job could not describe yet
            _describe(ctx, row)
    return rows, has_more


def _describe(ctx: CallContext, row: File) -> None:
    """Ask the provider for a file's size and name; on failure the ledger
    stays as it is and the answer shows ``bytes: 0`` (see ``File.to_openai``)."""
    try:
        provider = provider_of(FILES, row)
        describe_file(row, ctx.upstream(provider, provider.retrieve_file, row.remote_id))
    except (ProviderError, GatewayError) as exc:
        logger.warning("could not describe file %s: %s", row.public_id, exc.message)


def _locate(ctx: CallContext, file_id: str, provider_hint: str | None) -> tuple[File, bool]:
    return locate(
        File.objects.filter(deleted=False),
        ctx,
        file_id,
        provider_hint,
        api=FILES,
        kind="file",
        adopt=lambda provider: _adopt(ctx, provider, file_id),
    )


def _adopt(ctx: CallContext, provider, file_id: str) -> File:
    remote = ctx.upstream(provider, provider.retrieve_file, file_id)
    if remote is None:
        raise not_found("file", file_id)
    row = File(
        public_id=remote.remote_id,
        remote_id=remote.remote_id,
        provider=provider.name,
        provider_kind=provider.kind,
        owner=None,
        filename=remote.filename,
        purpose=remote.purpose,
        created_at=remote.created_at,
        ledger_state=LedgerState.OK,
    )
    _apply(row, remote)
    return save_adopted(row)


def retrieve_file(ctx: CallContext, file_id: str, provider_hint: str | None = None) -> File:
    """The file, refreshed from its provider when the provider has news."""
    ctx.note(action="files.retrieve")
    row, fresh = _locate(ctx, file_id, provider_hint)
    if fresh:
        return row
    provider = provider_of(FILES, row)
    try:
        remote = ctx.upstream(provider, provider.retrieve_file, row.remote_id)
    except ProviderNotFound as exc:
        if exc.body is None:
            raise  # not the provider's own word (a proxy page?): the ledger stays as it is
        # Gone upstream (deleted elsewhere, or expired): the ledger catches up.
        _mark_deleted(row, status_details="not found at the provider")
        raise not_found("file", file_id) from None
    if remote is not None:
        changed = _apply(row, remote)
        if changed:
            row.save(update_fields=[*changed, "updated"])
    return row


def _mark_deleted(row: File, *, status_details: str | None = None) -> None:
    row.deleted = True
    row.deleted_at = timezone.now()
    row.status = "deleted"
    fields = ["deleted", "deleted_at", "status", "updated"]
    if status_details:
        row.status_details = status_details
        fields.append("status_details")
    row.save(update_fields=fields)


def delete_file(ctx: CallContext, file_id: str, provider_hint: str | None = None) -> File:
    """Delete upstream, then mark the row deleted (rows are never removed)."""
    ctx.note(action="files.delete")
    row, _ = _locate(ctx, file_id, provider_hint)
    provider = provider_of(FILES, row)
    try:
        ctx.upstream(provider, provider.delete_file, row.remote_id)
    except ProviderNotFound:
        pass  # already gone upstream: the ledger catches up
    _mark_deleted(row)
    return row


def file_content(ctx: CallContext, file_id: str, provider_hint: str | None = None) -> FileContent:
    """The file's bytes, streamed from the provider."""
    ctx.note(action="files.content")
    row, _ = _locate(ctx, file_id, provider_hint)
    provider = provider_of(FILES, row)
    return ctx.upstream(provider, provider.file_content, row.remote_id)
