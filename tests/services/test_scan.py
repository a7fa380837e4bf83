"""The one pass over an upload: SHA-256, size and (fine-tune) validation.
Past a few MiB the hash runs on a thread beside the validation; the result
is the same and the thread never outlives the scan."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading

import pytest

from ftproxy.errors import InvalidRequest
from ftproxy.services.files.scan import HASH_INLINE_BYTES, scan_upload

LINE = (
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "q " * 40},
                {"role": "assistant", "content": "a"},
            ]
        }
    ).encode()
    + b"\n"
)


def hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ftproxy-sha256"]


@pytest.mark.parametrize(
    "size", [10, HASH_INLINE_BYTES - 1, HASH_INLINE_BYTES + 1, 3 * HASH_INLINE_BYTES]
)
def test_the_hash_and_size_are_those_of_the_bytes_whatever_the_size(size: int) -> None:
    data = os.urandom(size)
    scan = scan_upload(io.BytesIO(data), "batch")
    assert (scan.sha256, scan.size) == (hashlib.sha256(data).hexdigest(), size)
    assert not hashing_threads()


def test_a_big_fine_tune_file_is_hashed_and_counted() -> None:
    data = LINE * (3 * HASH_INLINE_BYTES // len(LINE))
    scan = scan_upload(io.BytesIO(data), "fine-tune")
    assert scan.sha256 == hashlib.sha256(data).hexdigest()
    assert scan.examples == data.count(b"\n")
    assert not hashing_threads()


def test_a_bad_line_deep_in_a_big_file_is_a_400_naming_it_and_stops_the_hash_thread() -> None:
    count = 3 * HASH_INLINE_BYTES // len(LINE)
    data = LINE * count + b'{"messages": "oops"}\n'
    with pytest.raises(InvalidRequest) as caught:
        scan_upload(io.BytesIO(data), "fine-tune")
    assert f"line {count + 1}: messages" in caught.value.message
    assert not hashing_threads()


class Failing(io.BytesIO):
    def read(self, size: int = -1) -> bytes:
        if self.tell() > 2 * HASH_INLINE_BYTES:
            raise OSError("disk went away")
        return super().read(size)


def test_a_read_that_fails_mid_scan_raises_and_leaves_no_thread() -> None:
    with pytest.raises(OSError, match="disk went away"):
        scan_upload(Failing(os.urandom(3 * HASH_INLINE_BYTES)), "batch")
    assert not hashing_threads()


class Reopenable(io.BytesIO):
    """A stream with a second reader of its bytes (as a spooled part has)."""

    def __init__(self, data: bytes, second: bytes | None = None):
        super().__init__(data)
        self.second = data if second is None else second

    def reopen(self) -> io.BytesIO:
        return io.BytesIO(self.second)


@pytest.mark.parametrize(
    "size", [HASH_INLINE_BYTES - 1, HASH_INLINE_BYTES + 1, 5 * HASH_INLINE_BYTES]
)
def test_a_stream_that_reopens_is_hashed_by_a_reader_of_its_own_to_the_same_digest(
    size: int,
) -> None:
    data = os.urandom(size)
    scan = scan_upload(Reopenable(data), "batch")
    assert (scan.sha256, scan.size) == (hashlib.sha256(data).hexdigest(), size)
    lines = LINE * (3 * HASH_INLINE_BYTES // len(LINE))
    assert scan_upload(Reopenable(lines), "fine-tune").sha256 == hashlib.sha256(lines).hexdigest()
    assert not hashing_threads()


def test_a_second_reader_that_sees_other_bytes_fails_the_scan() -> None:
    data = os.urandom(3 * HASH_INLINE_BYTES)
    with pytest.raises(RuntimeError, match="changed while it was read"):
        scan_upload(Reopenable(data, second=data + b"more"), "batch")
    assert not hashing_threads()


def test_a_bad_line_stops_the_hashing_reader_of_its_own_too() -> None:
    data = LINE * (5 * HASH_INLINE_BYTES // len(LINE)) + b"oops\n"
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        scan_upload(Reopenable(data), "fine-tune")
    assert not hashing_threads()
