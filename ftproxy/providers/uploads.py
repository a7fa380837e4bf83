"""Request bodies that stream up to a provider.

A training file can be hundreds of megabytes, so an upload is never held in
memory: ``multipart_upload`` builds a ``multipart/form-data`` body read from
the file chunk by chunk, and ``StreamedBody`` sends any such body with a
known Content-Length. ``BoundedReader`` keeps the declared size honest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from requests_toolbelt import MultipartEncoder

from ..errors import ProviderInputError

#: Read size when streaming a body up.
UPLOAD_CHUNK_BYTES = 1024 * 1024


class BoundedReader:
    """Exactly ``size`` bytes of ``stream``, read on demand.

    ``MultipartEncoder`` sizes a part by its ``len`` and reads until that
    reaches zero, so the length must be known and must not lie: a stream
    that ends early raises instead of spinning. It also keeps the encoder
    from its in-memory shortcuts (``getvalue()`` on a BytesIO or spooled file).
    """

    def __init__(self, stream: IO[bytes], size: int, provider: str = ""):
        self._stream = stream
        self._remaining = int(size)
        self._size = int(size)
        self._provider = provider

    @property
    def len(self) -> int:
        return self._remaining

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        want = self._remaining if size is None or size < 0 else min(size, self._remaining)
        chunk = self._stream.read(want)
        if not chunk:
            raise ProviderInputError(
                f"The uploaded file ended after {self._size - self._remaining} of "
                f"{self._size} bytes.",
                provider=self._provider,
            )
        self._remaining -= len(chunk)
        return chunk


class StreamedBody:
    """A request body of known length, produced chunk by chunk.

    Given an iterable with ``__len__``, requests sends ``Content-Length``
    (not chunked encoding, which some upstreams refuse for uploads) and
    urllib3 writes each chunk as it comes, so memory stays at one chunk
    whatever the file size. Deliberately no ``read``: tools that see a
    file-like body tend to slurp it.
    """

    def __init__(self, reader: Any, length: int, chunk_size: int = UPLOAD_CHUNK_BYTES):
        self._reader = reader
        self._length = length
        self._chunk_size = chunk_size

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._reader.read(self._chunk_size)
            if not chunk:
                return
            yield chunk


def multipart_upload(
    fields: list[tuple[str, str]],
    file_field: str,
    filename: str,
    stream: IO[bytes],
    size: int,
    content_type: str = "application/octet-stream",
    provider: str = "",
) -> tuple[StreamedBody, str]:
    """A streamed ``multipart/form-data`` body: the plain ``fields`` first,
    then the file part read from ``stream`` (``size`` bytes from its start).
    Returns the body and its Content-Type header value."""
    if hasattr(stream, "seek"):
        stream.seek(0)
    reader = BoundedReader(stream, size, provider)
    encoder = MultipartEncoder(fields=[*fields, (file_field, (filename, reader, content_type))])
    return StreamedBody(encoder, encoder.len), encoder.content_type


class _Window:
    """``length`` bytes of a seekable stream from ``start``, read on demand;
    each read seeks first, so parts never depend on each other's reads."""

    def __init__(self, stream: IO[bytes], start: int, length: int):
        self._stream, self._start, self._done = stream, start, 0
        self._stream_length = length

    def read(self, size: int = -1) -> bytes:
        left = self._stream_length - self._done
        if left <= 0:
            return b""
        self._stream.seek(self._start + self._done)
        chunk = self._stream.read(left if size is None or size < 0 else min(size, left))
        self._done += len(chunk)
        return chunk


def part_body(stream: IO[bytes], start: int, length: int, provider: str) -> StreamedBody:
    """``length`` bytes of ``stream`` from ``start``, streamed with a
    Content-Length (signed storage URLs take no chunked bodies); a stream
    shorter than that raises instead of sending less."""
    return StreamedBody(BoundedReader(_Window(stream, start, length), length, provider), length)


__all__ = [
    "BoundedReader",
    "StreamedBody",
    "multipart_upload",
    "part_body",
]
