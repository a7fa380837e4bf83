"""Reading a binary stream as lines, a chunk at a time, with a bound on
the length of one line: what the validator reads, and what other readers
of uploaded JSONL use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

#: Read size of one chunk.
CHUNK_SIZE = 1024 * 1024
#: The longest line kept (newline excluded); a longer one is yielded as None.
MAX_LINE_BYTES = 64 * 1024 * 1024


def iter_lines(
    stream: IO[bytes], *, chunk_size: int = CHUNK_SIZE, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[bytes | None]:
    """Yield the physical lines of a binary stream, reading ``chunk_size`` at a time.

    Lines keep their ``b"\\n"``. A line longer than ``max_line_bytes``
    (newline excluded) is not buffered: ``None`` is yielded in its place.
    Memory stays below ``chunk_size + max_line_bytes`` whatever the file size.
    """
    return split_lines(stream, chunk_size, max_line_bytes, keepends=True)


def split_lines(
    stream: IO[bytes], chunk_size: int, max_line_bytes: int, *, keepends: bool
) -> Iterator[bytes | None]:
    """``iter_lines``, with or without the newlines."""
    for batch in line_batches(stream, chunk_size, max_line_bytes, keepends=keepends):
        yield from batch


def line_batches(
    stream: IO[bytes], chunk_size: int, max_line_bytes: int, *, keepends: bool
) -> Iterator[list[bytes | None]]:
    """The lines of ``split_lines``, a list per chunk read (each chunk is split at
    once rather than line by line)."""
    end = b"\n" if keepends else b""
    # A line wholly inside one chunk is no longer than the chunk: only the
    # first line of a chunk (which carries what was pending) can be too long.
    short_chunks = chunk_size <= max_line_bytes
    pending = bytearray()
    oversized = False
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError("validate a binary file object (opened in 'rb' mode)")
        parts: list[bytes | None] = bytes(chunk).split(b"\n")  # type: ignore[assignment]
        rest = parts.pop()  # after the chunk's last newline: the next line's start
        if parts:
            if oversized:
                oversized = False
                parts[0] = None
            elif pending:
                pending += parts[0]  # type: ignore[arg-type]
                parts[0] = bytes(pending) if len(pending) <= max_line_bytes else None
                pending.clear()
            elif len(parts[0]) > max_line_bytes:  # type: ignore[arg-type]
                parts[0] = None
            if not short_chunks:
                parts = [
                    None if part is None or len(part) > max_line_bytes else part for part in parts
                ]
            if keepends:
                parts = [None if part is None else part + end for part in parts]
            yield parts
        if not oversized:
            pending += rest
            if len(pending) > max_line_bytes:
                oversized = True
                pending.clear()
    if oversized:
        yield [None]
    elif pending:
        yield [bytes(pending)]
