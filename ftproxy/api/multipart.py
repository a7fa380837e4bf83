"""Uploaded files that stay where the server spooled the request body.

The ASGI server has already written the whole body to a file in
``FILE_UPLOAD_TEMP_DIR`` before the view runs. Django's multipart parser
would copy each file part out of it into a second temporary file, 64 KiB
at a time; for a 200 MB upload that copy costs more than everything else
the parse does. ``SpooledUploadHandler`` lets Django parse the body as
always (fields, limits, names, encodings are all Django's), in larger
reads, but hands each file on as a ``SpooledPart``: a read-only window onto
the bytes inside the spooled body, never written again.

The window is exact by construction: every chunk Django's parser hands over
is compared with the spooled bytes at the window's place before it is
dropped. Should one differ (a part sent with a transfer encoding, a body
that is not the spool), the bytes checked so far and the rest go to a
temporary file as Django's own handler would; a body that is not in a file
(the WSGI server, the test client) is left to Django's handlers.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from typing import Any

from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    StopFutureHandlers,
    TemporaryFileUploadHandler,
)

#: Read size of the multipart parse (Django's default is 64 KiB). Each read
#: costs the parser two copies: reads that stay in the CPU's cache are the
#: fastest (a 200 MB part: 0.11 s in 256 KiB reads, 0.18 s in 2 MiB, 0.41 s
#: in 8 MiB), and far cheaper than the 64 KiB writes of a copy.
PARSE_CHUNK_BYTES = 256 * 1024
#: Copy size when a window has to become a temporary file after all.
COPY_CHUNK_BYTES = 1024 * 1024


def spooled_body(request) -> tuple[Any, int] | None:
    """The file the server spooled the body of ``request`` to, and its
    descriptor, when there is one on disk holding exactly the declared
    body and nothing of it has been read yet; else None. The server hands
    it over as ``wsgi.input`` (the gateway's bridge to Django's WSGI
    handler) or as the body file of Django's ASGI handler."""
    if getattr(request, "_read_started", True):
        return None
    stream = getattr(request, "environ", {}).get("wsgi.input")
    if not isinstance(stream, (tempfile.SpooledTemporaryFile, io.IOBase)):
        stream = getattr(request, "_stream", None)  # ASGIRequest: the body file itself
    if stream is None:
        return None
    if isinstance(stream, tempfile.SpooledTemporaryFile) and not stream._rolled:
        return None  # a small body, still in memory: nothing to spare
    try:
        fd = stream.fileno()
        info = os.fstat(fd)
        at = stream.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size != declared or at != 0:
        return None
    return stream, fd


class SpooledPart(UploadedFile):
    """A file part as a window (``offset``, ``size``) onto the spooled body.
    Reads use ``os.pread``: the spool's own position is never moved, and
    each ``SpooledPart`` (and each ``reopen``) has a position of its own.
    Closing it leaves the spool to the server, which closes and removes it
    when the request is over: a window is good for its request only."""

    def __init__(
        self,
        fd: int,
        offset: int,
        size: int,
        name: str,
        content_type: str,
        charset: str | None,
        extra: Any,
    ):
        self._fd, self._offset = fd, offset
        super().__init__(_Window(fd, offset, size), name, content_type, size, charset, extra)

    def reopen(self) -> _Window:
        """Another reader of the same bytes, at their start."""
        return _Window(self._fd, self._offset, self.size)


class _Window(io.RawIOBase):
    """``size`` bytes of the file ``fd`` from ``offset``, read-only."""

    def __init__(self, fd: int, offset: int, size: int):
        self._fd, self._offset, self._size = fd, offset, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + position < 0:
            raise ValueError("negative seek position")
        self._position = base + position
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        left = self._size - self._position
        want = left if size is None or size < 0 else min(size, left)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._offset + self._position)
        self._position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def reopen(self) -> _Window:
        """Another reader of the same bytes, at their start."""
        return _Window(self._fd, self._offset, self._size)


class SpooledUploadHandler(FileUploadHandler):
    """Hands each uploaded file on as a ``SpooledPart`` of the spooled body
    (see the module's docstring). Put it first: a body that is not in a file
    goes on to the handlers after it."""

    chunk_size = PARSE_CHUNK_BYTES
    spool: tuple[Any, int] | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.spool = spooled_body(self.request)
        return None  # Django parses

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.offset: int | None = None
        self.file: TemporaryUploadedFile | None = None  # once copied out
        if self.spool is not None:
            raise StopFutureHandlers  # the others are for bodies not in a file

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.spool is None:
            return raw_data  # for the next handler
        if self.file is not None:
            self.file.write(raw_data)
            return None
        if not raw_data:
            return None
        spool, fd = self.spool
        if self.offset is None:
            self.offset = self._locate(spool, fd, raw_data, start)
        if self.offset is not None:
            if os.pread(fd, len(raw_data), self.offset + start) == raw_data:
                return None  # already on disk, at offset + start
        self._copy_out(fd, start)
        assert self.file is not None
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.spool is None:
            return None
        if self.file is not None:
            self.file.seek(0)
            self.file.size = file_size
            return self.file
        _, fd = self.spool
        offset = self.offset if self.offset is not None else 0
        return SpooledPart(
            fd,
            offset,
            file_size if self.offset is not None else 0,
            self.file_name,
            self.content_type,
            self.charset,
            self.content_type_extra,
        )

    def upload_interrupted(self) -> None:
        if getattr(self, "file", None) is not None:
            self.file.close()

    @staticmethod
    def _locate(spool, fd: int, first: bytes, start: int) -> int | None:
        """Where the part's data begins in the spool: its first chunk, just
        read by the parser, lies in the last few reads before the spool's
        position (where exactly is proved chunk by chunk afterwards)."""
        end = spool.tell()
        begin = max(0, end - start - len(first) - 2 * PARSE_CHUNK_BYTES - 64 * 1024)
        found = os.pread(fd, end - begin, begin).find(first)
        return None if found < 0 else begin + found - start

    def _copy_out(self, fd: int, verified: int) -> None:
        """From now on a temporary file, holding the ``verified`` bytes
        already checked in the spool."""
        self.file = TemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        done = 0
        while done < verified:
            assert self.offset is not None
            block = os.pread(fd, min(COPY_CHUNK_BYTES, verified - done), self.offset + done)
            if not block:
                raise OSError("the spooled request body ended early")
            self.file.write(block)
            done += len(block)


def upload_handlers(request) -> list[FileUploadHandler]:
    """The handlers of an upload route: spooled parts first, then the
    configured ones (``FILE_UPLOAD_HANDLERS``) for bodies that are not in a
    file; Django's own two read in the same larger chunks."""
    configured = list(request.upload_handlers)
    for handler in configured:
        if type(handler) in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
            handler.chunk_size = PARSE_CHUNK_BYTES
    return [SpooledUploadHandler(request), *configured]


__all__ = ["SpooledPart", "SpooledUploadHandler", "spooled_body", "upload_handlers"]
