"""Where Upload parts wait on disk: ``$FTPROXY_VAR_DIR/uploads/<upload id>/``.

One file per part, written in chunks (never held in memory); at completion
``PartsReader`` reads them back in the order the client gives, as one
seekable stream, so the whole is validated and sent without ever being
copied into one file or into memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path
from typing import IO

#: Read and copy size.
CHUNK_BYTES = 1024 * 1024


def uploads_root() -> Path:
    """``$FTPROXY_VAR_DIR/uploads``, else ``var/uploads`` in the working directory."""
    var_dir = os.environ.get("FTPROXY_VAR_DIR")
    return (Path(var_dir) if var_dir else Path("var")) / "uploads"


def incoming_dir() -> Path:
    """Where parts are parsed to before they are moved into their upload's
    directory (the same file system, so the move is a rename)."""
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


def upload_dir(upload_id: str) -> Path:
    return uploads_root() / upload_id


def part_path(upload_id: str, part_id: str) -> Path:
    return upload_dir(upload_id) / part_id


def save_part(upload_id: str, part_id: str, stream: IO[bytes], source_path: str | None) -> int:
    """Store one part; return its size. A part Django already spooled to a
    temporary file is moved rather than copied when both are on one disk."""
    target = part_path(upload_id, part_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source_path:
        try:
            os.replace(source_path, target)
            return target.stat().st_size
        except OSError:
            pass  # another file system: copy below
    if hasattr(stream, "seek"):
        stream.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, CHUNK_BYTES)
        return out.tell()


def delete_part(upload_id: str, part_id: str) -> None:
    part_path(upload_id, part_id).unlink(missing_ok=True)


def free(upload_id: str) -> None:
    """Delete every stored part of the upload."""
    shutil.rmtree(upload_dir(upload_id), ignore_errors=True)


class PartsReader(io.RawIOBase):
    """The concatenation of part files, read and seeked as one file."""

    def __init__(self, paths: list[Path], sizes: list[int]):
        super().__init__()
        self._paths = paths
        self._starts: list[int] = []
        total = 0
        for size in sizes:
            self._starts.append(total)
            total += size
        self._size = total
        self._pos = 0
        self._index = -1
        self._handle: IO[bytes] | None = None

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
        if index != self._index:
            self._close_handle()
            self._handle = open(self._paths[index], "rb")  # noqa: SIM115 (closed by seek/close)
            self._index = index
        self._handle.seek(pos - self._starts[index])
        return True

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
            if not chunk:  # the part file is shorter than recorded
                raise OSError(f"part file {self._paths[self._index].name} is truncated")
            chunks.append(chunk)
            got += len(chunk)
            self._pos += len(chunk)
            if self._pos >= end:
                self._close_handle()
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
