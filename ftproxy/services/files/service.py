"""Files: record first, call the provider, record the outcome."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import IO, Any

from django.utils import timezone

from ...conf import FILES, gateway
from ...errors import GatewayError, InvalidRequest, ProviderError, ProviderNotFound, TooLarge
from ...models import ApiKey, File, LedgerState, mint_id
from ...providers.base import Provider
from ...providers.data import FileContent, FileUpload, RemoteFile
from ..accounts.allowlist import check_allowed
from ..ledger.common import (
    choose_provider,
    locate,
    not_found,
    page,
    provider_of,
    save_adopted,
    visible,
)
from ..ledger.context import CallContext
from ..ledger.reconcile import apply_remote_file, link_file, settle_failed_create
from ..ledger.status import describe_file
from .scan import (
    CUT_WAIT_SECONDS,
    FINE_TUNE,
    SEND_WHILE_SCANNING_BYTES,
    HeldBack,
    Scan,
    scan_upload,
)

logger = logging.getLogger("ftproxy.services")


def check_size(size: int | None) -> None:
    """413 when ``size`` exceeds ``max_upload_mb``."""
    limit = gateway().max_upload_bytes
    if size is not None and size > limit:
        raise TooLarge(
            f"The file is {size} bytes; this gateway accepts uploads up to "
            f"{limit // (1024 * 1024)} MB (ftproxy_settings.max_upload_mb)."
        )


def create_file(
    ctx: CallContext,
    *,
    stream: IO[bytes],
    size: int,
    filename: str,
    purpose: str,
    content_type: str,
    entry: str | None,
    expires_after: dict[str, Any] | None,
) -> File:
    """Validate, record, upload, record the outcome."""
    check_size(size)
    provider = choose_provider(FILES, entry)
    ctx.note(action="files.create", provider=provider.name)
    check_allowed(ctx, provider)
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
    held = HeldBack(second, upload.size)
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
            # Its body was cut short: nothing can exist upstream. A sender
            # stuck on a stalled upstream ends by itself at the entry's
            # timeout (a daemon thread); the refusal does not wait for it.
            sender.join(CUT_WAIT_SECONDS)
            ctx.create_not_sent()
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


def list_files(
    ctx: CallContext,
    *,
    purpose: str | None,
    after: str | None,
    limit: int,
    order: str,
    entry: str | None = None,
) -> tuple[list[File], bool]:
    """A page of the caller's files from the ledger (of one provider entry
    when ``entry`` names one)."""
    ctx.note(action="files.list")
    everything = visible(File.objects.defer("provider_payload"), ctx)  # not shown in lists
    if entry:
        everything = everything.filter(provider=choose_provider(FILES, entry).name)
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
    stays as it is and the answer shows ``bytes: 0`` (see ``api.shapes.OpenAIFile``)."""
    try:
        provider = provider_of(FILES, row)
        describe_file(row, ctx.upstream(provider, provider.retrieve_file, row.remote_id))
    except (ProviderError, GatewayError) as exc:
        logger.warning("could not describe file %s: %s", row.public_id, exc.message)


def _locate(ctx: CallContext, file_id: str, entry: str | None) -> tuple[File, bool]:
    return locate(
        File,
        ctx,
        file_id,
        entry,
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
    apply_remote_file(row, remote)
    return save_adopted(row)


def retrieve_file(ctx: CallContext, file_id: str, entry: str | None = None) -> File:
    """The file, refreshed from its provider when the provider has news."""
    ctx.note(action="files.retrieve")
    row, fresh = _locate(ctx, file_id, entry)
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
        changed = apply_remote_file(row, remote)
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


def delete_file(ctx: CallContext, file_id: str, entry: str | None = None) -> File:
    """Delete upstream, then mark the row deleted (rows are never removed)."""
    ctx.note(action="files.delete")
    row, _ = _locate(ctx, file_id, entry)
    provider = provider_of(FILES, row)
    try:
        ctx.upstream(provider, provider.delete_file, row.remote_id)
    except ProviderNotFound:
        pass  # already gone upstream: the ledger catches up
    _mark_deleted(row)
    return row


def file_content(ctx: CallContext, file_id: str, entry: str | None = None) -> FileContent:
    """The file's bytes, streamed from the provider."""
    ctx.note(action="files.content")
    row, _ = _locate(ctx, file_id, entry)
    provider = provider_of(FILES, row)
    return ctx.upstream(provider, provider.file_content, row.remote_id)
