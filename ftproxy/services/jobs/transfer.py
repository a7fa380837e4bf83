"""A copy's bytes on the move (see ``copies``): downloaded from the source
entry into a spool, uploaded to the target (in parts, through its own
Uploads API, when the file is larger than its ``POST /files`` takes),
then waited on while the target imports it."""

from __future__ import annotations

import hashlib
import time
from typing import IO

from ...conf import gateway
from ...errors import ProviderError, TooLarge
from ...models import File
from ...providers.base import Provider
from ...providers.data import FileUpload, RemoteFile, UploadCreate
from ..ledger.context import CallContext
from ..uploads.service import MAX_PART_BYTES

#: How long a copy waits for the target to finish importing it, and how
#: often it asks.
PROCESSING_WAIT_SECONDS = 120
PROCESSING_POLL_SECONDS = 2


class _PartOf:
    """``length`` bytes of ``stream`` from ``offset``; ``seek(0)`` goes back
    to ``offset`` (what the multipart body does before it reads, and again
    on a retry)."""

    def __init__(self, stream: IO[bytes], offset: int, length: int):
        self._stream, self._offset, self._length = stream, offset, length

    def seek(self, position: int, whence: int = 0) -> int:
        return self._stream.seek(self._offset + position) - self._offset

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def upload_in_parts(ctx: CallContext, target: Provider, upload: FileUpload) -> RemoteFile:
    """The copy sent through the target's own Uploads API, in 64 MB parts:
    for a file larger than its ``POST /files`` takes (a file made by the
    gateway's Uploads API may be). A failure cancels the upstream upload."""
    opened = ctx.upstream(
        target,
        target.create_upload,
        UploadCreate(
            filename=upload.filename,
            purpose=upload.purpose,
            bytes=upload.size,
            mime_type=upload.content_type,
        ),
    )
    try:
        part_ids = []
        for offset in range(0, upload.size, MAX_PART_BYTES):
            length = min(MAX_PART_BYTES, upload.size - offset)
            part = _PartOf(upload.stream, offset, length)
            part_ids.append(
                ctx.upstream(target, target.add_upload_part, opened.remote_id, part, length)
            )
        done = ctx.upstream(target, target.complete_upload, opened.remote_id, part_ids, None)
    except Exception:
        try:
            ctx.upstream(target, target.cancel_upload, opened.remote_id)
        except ProviderError:
            pass  # the first failure is the one worth reporting
        raise
    if done.file is None:
        raise ProviderError(
            f"{target.name!r} completed upload {opened.remote_id} without a file.",
            provider=target.name,
            body=done.raw,
        )
    return done.file


def delete_quietly(ctx: CallContext, target: Provider, remote_id: str) -> None:
    """Delete a file the target refused after its upload, best effort."""
    try:
        ctx.upstream(target, target.delete_file, remote_id)
    except ProviderError:
        pass  # the refusal is the error worth reporting


def until_processed(ctx: CallContext, target: Provider, remote: RemoteFile) -> RemoteFile:
    """Wait (a bounded while) for a file the target is still importing, as
    Azure does after an upload: a job on a file not yet processed may be
    refused. Returns the file as last seen (``error``: the target rejected it)."""
    deadline = time.monotonic() + PROCESSING_WAIT_SECONDS
    while remote.status not in ("processed", "error"):
        if time.monotonic() > deadline:
            return remote  # let the job create say whether it can wait
        latest = ctx.upstream(target, target.retrieve_file, remote.remote_id)
        if latest is None:  # the target keeps no file state of its own
            return remote
        if latest.status not in ("processed", "error"):
            time.sleep(PROCESSING_POLL_SECONDS)
        remote = latest
    return remote


def download(ctx: CallContext, source: Provider, original: File, spool: IO[bytes]) -> int:
    """Stream the original's bytes into ``spool``; return their count. The
    bound is the largest file the gateway takes by either route (``POST
    /files`` or, in parts, ``/uploads``), since the original came by one."""
    settings = gateway()
    limit = max(settings.max_upload_bytes, settings.max_upload_total_bytes)
    content = ctx.upstream(source, source.file_content, original.remote_id)
    size = 0
    digest = hashlib.sha256()
    try:
        for chunk in content.chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(
                    f"the file is over the largest this gateway takes, "
                    f"{limit / (1024 * 1024):g} MB (ftproxy_settings.max_upload_mb and "
                    "max_upload_total_mb).",
                    param=None,
                )
            digest.update(chunk)
            spool.write(chunk)
    finally:
        if content.close is not None:
            content.close()
    spool.seek(0)
    return size
