"""The bytes of an upload: hashed and validated in one streamed pass
(``scan_upload``), and held back from a provider that is sent them while
they are scanned (``HeldBack``)."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ...errors import InvalidRequest
from ...validation import validate_fine_tune_file

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
#: How long a refused file's request waits for its sending thread to stop
#: after the body was cut short. An upstream that stalls mid-send holds
#: that thread until the entry's timeout; the client's 400 does not wait.
CUT_WAIT_SECONDS = 2.0
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


class UploadCutShort(Exception):
    """Raised to the provider reading a ``HeldBack`` stream whose scan
    refused the file (or failed): its request ends before its body does."""


class HeldBack:
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
