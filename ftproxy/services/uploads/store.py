"""Where Upload parts wait: a Django storage, the ``ftproxy-uploads`` alias
of ``STORAGES`` (by default the local file system under
``$FTPROXY_VAR_DIR/uploads``). With a storage every host shares (S3, Google
Cloud Storage, Azure Blob through django-storages) any host takes any part
and completes or cancels any upload.

A part is parsed to a local file first (``incoming_dir``), then saved as
``<upload id>/<part id>`` (a rename on the default storage, a streamed
upload on an object store); never held in memory. At completion
``PartsReader`` reads the parts back in the order the client gives, as one
seekable stream, so the whole is validated and sent without ever being
copied into one file or into memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.storage import FileSystemStorage, Storage, storages

#: The ``STORAGES`` alias of the parts' storage.
STORAGE_ALIAS = "ftproxy-uploads"
#: Read and copy size.
CHUNK_BYTES = 1024 * 1024


def uploads_root() -> Path:
    """``$FTPROXY_VAR_DIR/uploads``, else ``var/uploads`` in the working directory:
    the default storage's place, and the local spool of parts being parsed."""
    var_dir = os.environ.get("FTPROXY_VAR_DIR")
    return (Path(var_dir) if var_dir else Path("var")) / "uploads"


def storage() -> Storage:
    """The parts' storage: ``STORAGES["ftproxy-uploads"]`` when the project
    defines it, else the local file system under ``uploads_root()``."""
    if STORAGE_ALIAS in settings.STORAGES:
        return storages[STORAGE_ALIAS]
    return FileSystemStorage(location=uploads_root())


def incoming_dir() -> Path:
    """Where parts are parsed to (always local) before they are saved to the
    storage (on the default storage, the same file system: a rename)."""
    return uploads_root() / ".incoming"


def stale_incoming(before: float) -> list[Path]:
    """Parts being parsed that were last written before ``before`` (a Unix
    time): left behind by a worker that died mid-request."""
    try:
        entries = list(incoming_dir().iterdir())
    except FileNotFoundError:
        return []
    stale = []
    for path in entries:
        try:
            if path.stat().st_mtime < before:
                stale.append(path)
        except FileNotFoundError:
            pass  # finished meanwhile
    return stale


def part_name(upload_id: str, part_id: str) -> str:
    """The part's name in the storage."""
    return f"{upload_id}/{part_id}"


def save_part(upload_id: str, part_id: str, stream: IO[bytes], source_path: str | None) -> int:
    """Store one part; return the size the storage holds. A part Django
    spooled to a local file is moved rather than copied when the storage is
    on the same disk (``FileSystemStorage`` moves a file that has a
    ``temporary_file_path``)."""
    if hasattr(stream, "seek"):
        stream.seek(0)
    content = _Spooled(stream, source_path) if source_path else DjangoFile(stream)
    name = storage().save(part_name(upload_id, part_id), content)
    return storage().size(name)


class _Spooled(DjangoFile):
    """A spooled part that names its local file, so a file-system storage
    moves it instead of copying it."""

    def __init__(self, stream: IO[bytes], path: str):
        super().__init__(stream)
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


def stored_size(upload_id: str, part_id: str) -> int | None:
    """The stored part's size, None when the storage does not hold it."""
    try:
        return storage().size(part_name(upload_id, part_id))
    except Exception:  # OSError on a file system; object stores raise their own
        return None


def delete_part(upload_id: str, part_id: str) -> None:
    storage().delete(part_name(upload_id, part_id))


def free(upload_id: str) -> None:
    """Delete every stored part of the upload (and, on a file system, its folder)."""
    store = storage()
    try:
        _, names = store.listdir(upload_id)
    except FileNotFoundError:
        return
    for name in names:
        store.delete(part_name(upload_id, name))
    if isinstance(store, FileSystemStorage):
        try:
            store.delete(upload_id)  # the empty folder
        except OSError:
            pass  # a part arrived meanwhile: the next round frees it


def open_part(name: str, offset: int) -> IO[bytes]:
    """The stored part ``name``, read from ``offset`` on as a stream. On S3
    a ranged GET (django-storages' file would download the whole part
    first); on other storages their file, seeked."""
    opened = storage().open(name, "rb")
    obj = getattr(opened, "obj", None)  # S3File's boto3 object
    if obj is not None and callable(getattr(obj, "get", None)):
        body = obj.get(Range=f"bytes={offset}-")["Body"]
        opened.close()
        return body
    opened.seek(offset)
    return opened


class PartsReader(io.RawIOBase):
    """The concatenation of stored parts, read and seeked as one file; one
    part open at a time, read in the caller's chunks. ``on_progress`` is
    called now and then while reading (at most every ``PROGRESS_SECONDS``)."""

    PROGRESS_SECONDS = 15.0

    def __init__(
        self,
        names: list[str],
        sizes: list[int],
        on_progress: Callable[[], None] | None = None,
    ):
        super().__init__()
        self._names = names
        self._starts: list[int] = []
        total = 0
        for size in sizes:
            self._starts.append(total)
            total += size
        self._size = total
        self._pos = 0
        self._index = -1
        self._handle: IO[bytes] | None = None
        self._on_progress = on_progress
        self._last_progress = time.monotonic()

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        self._close_handle()
        return self._pos

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle, self._index = None, -1

    def _open_at(self, pos: int) -> bool:
        index = len(self._starts) - 1
        while index >= 0 and self._starts[index] > pos:
            index -= 1
        if index < 0 or pos >= self._size:
            return False
        self._close_handle()
        self._handle = open_part(self._names[index], pos - self._starts[index])
        self._index = index
        return True

    def _progress(self) -> None:
        if self._on_progress is None:
            return
        now = time.monotonic()
        if now - self._last_progress >= self.PROGRESS_SECONDS:
            self._last_progress = now
            self._on_progress()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._pos
        chunks: list[bytes] = []
        got = 0
        while got < size and self._pos < self._size:
            if self._handle is None and not self._open_at(self._pos):
                break
            end = (
                self._starts[self._index + 1] if self._index + 1 < len(self._starts) else self._size
            )
            chunk = self._handle.read(min(size - got, end - self._pos))
            if not chunk:  # the stored part is shorter than recorded
                raise OSError(f"part {self._names[self._index]} is truncated")
            chunks.append(chunk)
            got += len(chunk)
            self._pos += len(chunk)
            if self._pos >= end:
                self._close_handle()
        self._progress()
        # Mostly one chunk (reads rarely straddle parts): no copy at all.
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._close_handle()
        super().close()


class Md5Reader:
    """Passes reads through and keeps the MD5 of what was read since the
    last ``seek(0)`` (the scan reads the whole stream once from the start)."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self._digest = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) == (0, io.SEEK_SET):
            self._digest = hashlib.md5(usedforsecurity=False)
        return self._stream.seek(offset, whence)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
