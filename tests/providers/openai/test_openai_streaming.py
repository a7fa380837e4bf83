"""Bodies that must stream: uploads whose memory does not grow with the
file, and content passed back byte for byte."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tracemalloc

import pytest
import responses
from requests_toolbelt import MultipartDecoder

from ftproxy.errors import ProviderInputError
from ftproxy.providers.data import FileUpload
from ftproxy.providers.openai import OpenAIProvider

BASE = "https://api.openai.test/v1"
MIB = 1024 * 1024


def openai(api_base: str = BASE) -> OpenAIProvider:
    return OpenAIProvider(
        {"custom_llm_provider": "openai", "api_key": "sk-test", "api_base": api_base}
    )


def file_answer(size: int) -> str:
    return json.dumps(
        {
            "id": "file-big",
            "object": "file",
            "bytes": size,
            "created_at": 1,
            "filename": "big.jsonl",
            "purpose": "fine-tune",
            "status": "uploaded",
        }
    )


class StreamingFilePart:
    """Consumes a multipart body chunk by chunk and hashes the bytes of its
    last part (the file), holding back only as much as the closing
    boundary, so the receiving side keeps no copy of the file either."""

    def __init__(self, content_type: str):
        boundary = content_type.split("boundary=", 1)[1].encode()
        self.closing = b"\r\n--" + boundary + b"--\r\n"
        self.head = b""
        self.tail = b""
        self.in_file = False
        self.digest = hashlib.sha256()
        self.file_bytes = 0
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if not self.in_file:
            self.head += chunk
            marker = self.head.find(b'name="file"')
            end = self.head.find(b"\r\n\r\n", marker) if marker >= 0 else -1
            if end < 0:
                return
            self.in_file, chunk, self.head = True, self.head[end + 4 :], b""
        data = self.tail + chunk
        keep = len(self.closing)
        self.digest.update(data[:-keep])
        self.file_bytes += max(0, len(data) - keep)
        self.tail = data[-keep:]

    def finish(self) -> str:
        assert self.tail == self.closing, "the body must end with the closing boundary"
        return self.digest.hexdigest()


@pytest.fixture
def big_file(tmp_path):
    """A 300 MB file written in 1 MiB chunks (each one distinct), with its SHA-256."""
    size_mib = 300
    path = tmp_path / "big.jsonl"
    digest = hashlib.sha256()
    block = bytearray(os.urandom(MIB))
    with path.open("wb") as out:
        for i in range(size_mib):
            block[:8] = i.to_bytes(8, "big")
            digest.update(block)
            out.write(block)
    return path, size_mib * MIB, digest.hexdigest()


@responses.activate
def test_a_300_mb_upload_streams_in_constant_memory_and_arrives_intact(big_file):
    path, size, sha256 = big_file
    seen = {}

    def upstream(request):
        receiver = StreamingFilePart(request.headers["Content-Type"])
        for chunk in request.body:  # the body is an iterable of chunks, never one bytes
            assert len(chunk) <= 2 * MIB
            receiver.feed(chunk)
        seen.update(
            sha256=receiver.finish(),
            file_bytes=receiver.file_bytes,
            total=receiver.total,
            declared=int(request.headers["Content-Length"]),
        )
        return 200, {}, file_answer(size)

    responses.add_callback("POST", f"{BASE}/files", callback=upstream)
    provider = openai()

    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            remote = provider.upload_file(
                FileUpload(filename="big.jsonl", purpose="fine-tune", stream=stream, size=size)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert remote.remote_id == "file-big"
    assert seen["file_bytes"] == size
    assert seen["sha256"] == sha256
    assert seen["total"] == seen["declared"]
    assert peak < 30 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a {size // MIB} MiB file"


def test_upload_over_a_real_socket_sends_content_length_not_chunks(scripted_server):
    payload = os.urandom(3 * MIB + 17)
    scripted_server.script = [("json", 200, json.loads(file_answer(len(payload))), {})]

    openai(scripted_server.url).upload_file(
        FileUpload(
            filename="t.jsonl",
            purpose="fine-tune",
            stream=io.BytesIO(payload),
            size=len(payload),
            expires_after={"anchor": "created_at", "seconds": 7200},
        )
    )

    (request,) = scripted_server.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert request["method"] == "POST" and request["path"] == "/files"
    assert "transfer-encoding" not in headers
    assert int(headers["content-length"]) == request["length"]
    assert headers["authorization"] == "Bearer sk-test"
    parts = {
        part.headers[b"Content-Disposition"].split(b'name="')[1].split(b'"')[0]: part.content
        for part in MultipartDecoder(request["body"], headers["content-type"]).parts
    }
    assert parts == {
        b"purpose": b"fine-tune",
        b"expires_after[anchor]": b"created_at",
        b"expires_after[seconds]": b"7200",
        b"file": payload,
    }


@responses.activate
def test_upload_of_a_stream_shorter_than_its_size_is_refused():
    def upstream(request):
        b"".join(request.body)
        return 200, {}, file_answer(10)

    responses.add_callback("POST", f"{BASE}/files", callback=upstream)
    with pytest.raises(ProviderInputError, match="ended after 5 of 10 bytes"):
        openai().upload_file(
            FileUpload(filename="t", purpose="fine-tune", stream=io.BytesIO(b"12345"), size=10)
        )


@responses.activate
def test_upload_starts_from_the_beginning_of_the_stream():
    seen = {}

    def upstream(request):
        seen["parts"] = MultipartDecoder(b"".join(request.body), request.headers["Content-Type"])
        return 200, {}, file_answer(6)

    responses.add_callback("POST", f"{BASE}/files", callback=upstream)
    stream = io.BytesIO(b"abcdef")
    stream.read()  # e.g. a validator read it first
    openai().upload_file(FileUpload(filename="t", purpose="fine-tune", stream=stream, size=6))
    assert seen["parts"].parts[-1].content == b"abcdef"


@responses.activate
def test_content_of_a_multi_mb_binary_file_comes_back_byte_exact():
    payload = os.urandom(5 * MIB + 3)
    responses.add(
        "GET",
        f"{BASE}/files/file-bin/content",
        body=payload,
        content_type="application/octet-stream",
        headers={"Content-Length": str(len(payload))},
    )
    content = openai().file_content("file-bin")
    digest, total, largest = hashlib.sha256(), 0, 0
    for chunk in content.chunks:
        digest.update(chunk)
        total += len(chunk)
        largest = max(largest, len(chunk))
    content.close()

    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()
    assert total == content.length == len(payload)
    assert largest <= 64 * 1024
    assert content.content_type == "application/octet-stream"
    assert responses.calls[0].request.headers["Accept-Encoding"] == "identity"


@responses.activate
def test_content_sent_compressed_anyway_is_decoded_and_has_no_length():
    payload = b'{"prompt": "x"}\n' * 1000
    compressed = gzip.compress(payload)
    responses.add(
        "GET",
        f"{BASE}/files/file-gz/content",
        body=compressed,
        content_type="application/jsonl",
        headers={"Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
    )
    content = openai().file_content("file-gz")
    assert b"".join(content.chunks) == payload
    assert content.length is None  # the compressed length would be a lie


def test_closing_content_early_releases_the_connection(scripted_server):
    scripted_server.script = [("json", 200, {"x": "y" * 200_000}, {})]
    content = openai(scripted_server.url).file_content("file-1")
    next(iter(content.chunks))
    content.close()  # must not hang or raise with most of the body unread
