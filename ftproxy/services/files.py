"""Files: record first, call the provider, record the outcome."""

from __future__ import annotations

import contextvars
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
HASH_QUEUE_CHUNKS = 4
#: Read size of a hashing thread with a reader of its own (8 MiB blocks
#: took the worker's peak RSS growth from 16 MB to 28 MB on a 200 MB upload).
HASH_BLOCK_BYTES = 2 * 1024 * 1024
#: Fine-tune files at least this big are sent while they are scanned, to a
#: provider that streams uploads (see ``_send_while_scanning``).
SEND_WHILE_SCANNING_BYTES = 8 * 1024 * 1024
#: How far the sending may run ahead of the scan, and what it holds back
#: until the file has passed.
SEND_LEAD_BYTES = 16 * 1024 * 1024
HOLD_BACK_BYTES = 64 * 1024


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
    own (``hashlib`` lets go of the GIL while it hashes a large buffer), so
    hashing a big upload overlaps its validation instead of adding to it.
    A stream that can ``reopen`` (a second reader of the same bytes, as the
    spooled parts of request bodies can) is hashed by the thread from a
    reader of its own in ``HASH_BLOCK_BYTES`` blocks, which wakes it, and
    takes the GIL from the validation, half as often; any other is
    hashed from the chunks read, at most ``HASH_QUEUE_CHUNKS`` waiting.
    ``hexdigest`` waits for the thread; ``close`` stops it (a scan that
    raised)."""

    def __init__(self, stream: IO[bytes], progress: Callable[[int], None] | None = None):
        self.stream = stream
        self.progress = progress
        self.digest = hashlib.sha256()
        self.size = 0
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._hashed = 0  # by a thread reading on its own
        self._failed: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if not data:
            return data
        if self._thread is None and self.size + len(data) > HASH_INLINE_BYTES:
            self._start()
        if self._thread is None:
            self.digest.update(data)
        elif self._queue is not None:
            self._queue.put(bytes(data))  # bytes: a caller may reuse a buffer it was given
        self.size += len(data)
        if self.progress is not None:
            self.progress(self.size)
        return data

    def _start(self) -> None:
        """Hand the hashing to a thread, from ``self.size`` on."""
        reopen = getattr(self.stream, "reopen", None)
        if callable(reopen):
            target, args = self._hash_on_its_own, (reopen(), self.size)
        else:
            self._queue = queue.Queue(HASH_QUEUE_CHUNKS)
            target, args = self._hash_queued, ()
        self._thread = threading.Thread(target=target, args=args, name="ftproxy-sha256")
        self._thread.daemon = True
        self._thread.start()

    def _hash_on_its_own(self, reader: IO[bytes], start: int) -> None:
        try:
            reader.seek(start)
            while not self._stop.is_set() and (block := reader.read(HASH_BLOCK_BYTES)):
                self.digest.update(block)
                self._hashed += len(block)
            self._hashed += start
        except BaseException as exc:  # kept for hexdigest
            self._failed = exc

    def _hash_queued(self) -> None:
        assert self._queue is not None
        while (chunk := self._queue.get()) is not None:
            if self._failed is None:
                try:
                    self.digest.update(chunk)
                except BaseException as exc:  # kept for hexdigest; the reader never blocks
                    self._failed = exc

    def close(self) -> None:
        self._thread, thread = None, self._thread
        if thread is not None:
            self._stop.set()
            if self._queue is not None:
                self._queue.put(None)
            thread.join()

    def hexdigest(self) -> str:
        self._thread, thread = None, self._thread
        if thread is not None:
            if self._queue is not None:
                self._queue.put(None)
            thread.join()
            if self._queue is None and self._failed is None and self._hashed != self.size:
                self._failed = RuntimeError(
                    f"the upload changed while it was read ({self._hashed} bytes hashed, "
                    f"{self.size} validated)"
                )
        if self._failed is not None:
            raise self._failed
        return self.digest.hexdigest()


def scan_upload(
    stream: IO[bytes], purpose: str, progress: Callable[[int], None] | None = None
) -> Scan:
    """Hash the upload and, for ``fine-tune``, validate it line by line, in
    one streamed pass. A bad file raises a 400 naming its lines.
    ``progress`` is told how many bytes have been read after each read."""
    stream.seek(0)
    reader = _HashingReader(stream, progress)
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
    upload = FileUpload(
        filename=filename,
        purpose=purpose,
        stream=stream,
        size=size,
        content_type=content_type or "application/octet-stream",
        expires_after=expires_after,
    )
    reopen = getattr(stream, "reopen", None)
    if (
        purpose == FINE_TUNE
        and provider.streams_uploads
        and size >= SEND_WHILE_SCANNING_BYTES
        and callable(reopen)
    ):
        return _send_while_scanning(ctx, provider, upload, reopen())
    scan = scan_upload(stream, purpose)
    stream.seek(0)
    upload = replace(upload, size=scan.size)
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


class UploadCutShort(Exception):
    """Raised to the provider reading a ``_HeldBack`` stream whose scan
    refused the file (or failed): its request ends before its body does."""


class _HeldBack:
    """The upload as the provider reads it while the scan is still going:
    never more than ``SEND_LEAD_BYTES`` ahead of what the scan has read, and
    never its last ``HOLD_BACK_BYTES`` before ``release``. Until then the
    upstream holds an incomplete request body (short of its Content-Length
    and of the multipart's closing boundary), which no server takes for a
    file; ``cut`` makes the reader raise ``UploadCutShort`` instead, and the
    HTTP client drops the connection."""

    def __init__(self, stream: IO[bytes], size: int):
        self._stream = stream
        self._size = size
        self._position = 0
        self._scanned = 0
        self._state = ""  # "released" | "cut"
        self._changed = threading.Condition()

    def scanned(self, count: int) -> None:
        with self._changed:
            self._scanned = count
            self._changed.notify_all()

    def release(self) -> None:
        self._settle("released")

    def cut(self) -> None:
        self._settle("cut")

    def _settle(self, state: str) -> None:
        with self._changed:
            self._state = self._state or state
            self._changed.notify_all()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = 0) -> int:
        self._position = self._stream.seek(position, whence)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        with self._changed:
            while True:
                if self._state == "cut":
                    raise UploadCutShort("the upload was refused while it was being sent")
                if self._state == "released":
                    limit = self._size
                else:
                    limit = min(self._size - HOLD_BACK_BYTES, self._scanned + SEND_LEAD_BYTES)
                if self._position < limit or self._position >= self._size:
                    break
                self._changed.wait()
        want = limit - self._position
        if size is not None and size >= 0:
            want = min(want, size)
        data = self._stream.read(max(want, 0))
        self._position += len(data)
        return data


def _send_while_scanning(
    ctx: CallContext, provider: Provider, upload: FileUpload, second: IO[bytes]
) -> File:
    """``create_file`` for a big fine-tune file and a provider that sends
    an upload as one streamed request (``Provider.streams_uploads``): the
    file is sent (through a second reader, on a thread) while it is hashed
    and validated, instead of after.

    Nothing changes for the ledger or the client: the row is recorded only
    once the file has passed, and only then are the last bytes sent, so the
    upstream cannot have the file before the ledger does. A file that fails
    (a bad line anywhere) cuts the request short: the upstream is left with
    an incomplete body, which is never a file; the client gets the same 400
    naming the lines, no row is written, and the Idempotency-Key is free.
    """
    public_id = mint_id("file")
    held = _HeldBack(second, upload.size)
    sending = replace(upload, stream=held, gateway_id=public_id)
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["remote"] = ctx.upstream(provider, provider.upload_file, sending)
        except BaseException as exc:  # handed to the request's thread
            outcome["error"] = exc

    sender = threading.Thread(
        target=contextvars.copy_context().run, args=(send,), name="ftproxy-upload", daemon=True
    )
    sender.start()
    released = False
    try:
        scan = scan_upload(upload.stream, upload.purpose, progress=held.scanned)
        if scan.size != upload.size:
            raise InvalidRequest(
                f"The file part is {upload.size} bytes but {scan.size} could be read.",
                param="file",
            )
        row = record_file(
            ctx,
            provider,
            scan=scan,
            owner=ctx.caller.key,
            filename=upload.filename,
            purpose=upload.purpose,
            expires_after=upload.expires_after,
            public_id=public_id,
        )
        held.release()
        released = True
    finally:
        if not released:
            held.cut()
            sender.join()
            ctx.create_not_sent()  # its body was cut short: nothing can exist upstream
    sender.join()
    try:
        if "error" in outcome:
            raise outcome["error"]
        link_file(row, outcome["remote"], provider)
    except Exception as exc:
        settle_failed_create(row, exc, reached_provider=ctx.reached_provider)
        raise
    ctx.note(object_id=row.public_id)
    return row


def record_file(
    ctx: CallContext,
    provider: Provider,
    *,
    scan: Scan,
    owner: ApiKey | None,
    filename: str,
    purpose: str,
    expires_after: dict[str, Any] | None,
    public_id: str | None = None,
) -> File:
    """The ledger row of a scanned file about to be sent (still pending)."""
    now = timezone.now()
    row = File.objects.create(
        public_id=public_id or mint_id("file"),
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
    return row


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
    row = record_file(
        ctx,
        provider,
        scan=scan,
        owner=owner,
        filename=filename,
        purpose=purpose,
        expires_after=expires_after,
    )
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
        File,
        ctx,
        file_id,
        provider_hint,
        where={"deleted": False},
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
