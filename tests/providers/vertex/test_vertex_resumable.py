"""Cloud Storage resumable uploads in chunks: ``Content-Range`` per chunk,
308 until the last, and a failed chunk resumed from what the session holds."""

from __future__ import annotations

import io
import json
import os

import pytest
import responses

from ftproxy.errors import ProviderFailure
from ftproxy.providers.data import FileUpload

from .helpers import BUCKET, GCS, mock_token, provider

INIT_URL = f"{GCS}/upload/storage/v1/b/{BUCKET}/o"
SESSION = f"{GCS}/upload/session/1"
CHUNK = 256 * 1024
DATA = os.urandom(CHUNK * 2 + 1000)


class Session:
    """A resumable session that keeps what it is sent; ``fail`` lists the
    chunk numbers answered once with a 503 (after keeping half the chunk)."""

    def __init__(self, fail=()):
        self.stored = bytearray()
        self.ranges: list[str] = []
        self.fail = set(fail)
        self.puts = 0

    def put(self, request):
        body = request.body
        data = b"".join(body) if body is not None and not isinstance(body, bytes) else body or b""
        content_range = request.headers["Content-Range"]
        self.ranges.append(content_range)
        total = int(content_range.rsplit("/", 1)[1])
        if content_range.startswith("bytes */"):  # a status query
            return 308, {"Range": f"bytes=0-{len(self.stored) - 1}"} if self.stored else {}, ""
        start = int(content_range.split()[1].split("-")[0])
        assert start == len(self.stored), "a chunk must start where the session ends"
        self.puts += 1
        if self.puts in self.fail:
            self.fail.discard(self.puts)
            self.stored += data[: len(data) // 2]
            return 503, {}, json.dumps({"error": {"message": "backend error"}})
        self.stored += data
        if len(self.stored) == total:
            return 200, {}, json.dumps({"name": "object"})
        return 308, {"Range": f"bytes=0-{len(self.stored) - 1}"}, ""


def upload_with(session: Session, **entry):
    vertex = provider(api="files_settings", **entry)
    vertex.resumable_chunk_bytes = CHUNK
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_token(rsps)
        rsps.add(responses.POST, INIT_URL, headers={"Location": SESSION})
        rsps.add_callback(responses.PUT, SESSION, callback=session.put)
        vertex.upload_file(
            FileUpload(filename="in.bin", purpose="batch", stream=io.BytesIO(DATA), size=len(DATA))
        )


def test_a_large_object_goes_up_in_chunks_with_content_range():
    session = Session()
    upload_with(session)
    assert bytes(session.stored) == DATA
    total = len(DATA)
    assert session.ranges == [
        f"bytes 0-{CHUNK - 1}/{total}",
        f"bytes {CHUNK}-{2 * CHUNK - 1}/{total}",
        f"bytes {2 * CHUNK}-{total - 1}/{total}",
    ]


def test_a_failed_chunk_resumes_from_what_the_session_holds():
    session = Session(fail={2})
    upload_with(session, max_retries=1)
    assert bytes(session.stored) == DATA
    assert f"bytes */{len(DATA)}" in session.ranges
    half = CHUNK + CHUNK // 2
    assert session.ranges[-1] == f"bytes {half}-{len(DATA) - 1}/{len(DATA)}"


def test_without_retries_a_failed_chunk_fails_the_upload():
    with pytest.raises(ProviderFailure):
        upload_with(Session(fail={1}))
