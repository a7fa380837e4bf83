"""An uploaded file stays where the server spooled the request body: Django
parses the body as always, but the file is a window onto the spool, never
copied; the window holds exactly the bytes Django's parser read, and
anything else (a transfer encoding, bytes that do not match) is copied
out as before."""

from __future__ import annotations

import base64
import io
import os
import tempfile

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest

from ftproxy.api.multipart import PARSE_CHUNK_BYTES, SpooledPart, upload_handlers

BOUNDARY = b"----ftproxy-test-boundary-42"


def part(name: str, data: bytes, filename: str | None = None, headers: bytes = b"") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename:
        disposition += f'; filename="{filename}"'
    head = b"Content-Disposition: " + disposition.encode() + b"\r\n"
    if filename:
        head += b"Content-Type: application/jsonl\r\n"
    return b"--" + BOUNDARY + b"\r\n" + head + headers + b"\r\n" + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"


def request_for(raw: bytes, *, spooled: bool = True, bridge: str = "wsgi"):
    """A request as the server hands it over: the body in a spool (rolled
    to disk past 2.5 MB), or (``spooled=False``) in memory; as the
    ``wsgi.input`` of the gateway's bridge to Django's WSGI handler, or as
    the body file of Django's ASGI handler."""
    if spooled:
        stream = tempfile.SpooledTemporaryFile(max_size=2_621_440, mode="w+b")
        stream.write(raw)
        stream.seek(0)
    else:
        stream = io.BytesIO(raw)
    if bridge == "wsgi":
        request = WSGIRequest(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/v1/files",
                "SERVER_NAME": "testserver",
                "SERVER_PORT": "80",
                "wsgi.url_scheme": "http",
                "CONTENT_TYPE": "multipart/form-data; boundary=" + BOUNDARY.decode(),
                "CONTENT_LENGTH": str(len(raw)),
                "wsgi.input": stream,
            }
        )
        request.upload_handlers = upload_handlers(request)
        return request
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/files",
        "query_string": b"",
        "headers": [
            (b"content-type", b"multipart/form-data; boundary=" + BOUNDARY),
            (b"content-length", str(len(raw)).encode()),
        ],
    }
    request = ASGIRequest(scope, stream)
    request.upload_handlers = upload_handlers(request)
    return request


def content(upload) -> bytes:
    upload.seek(0)
    return upload.read()


@pytest.fixture(autouse=True)
def spool_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def big(size: int = 3 * 1024 * 1024 + 17) -> bytes:
    return (b'{"messages": "x"}\n' + os.urandom(64)) * (size // 82) + b"tail"


@pytest.mark.parametrize("bridge", ["wsgi", "asgi"])
def test_a_big_file_is_a_window_onto_the_spool_with_exactly_its_bytes(spool_dir, bridge):
    data = big()
    raw = body(part("purpose", b"fine-tune"), part("file", data, "t.jsonl"))
    request = request_for(raw, bridge=bridge)
    upload = request.FILES["file"]
    assert isinstance(upload, SpooledPart)
    assert request.POST["purpose"] == "fine-tune"
    assert (upload.name, upload.size, upload.content_type) == (
        "t.jsonl",
        len(data),
        "application/jsonl",
    )
    assert content(upload) == data
    assert list(spool_dir.iterdir()) == []  # nothing was copied
    # another reader has a position of its own
    other = upload.reopen()
    assert other.read(10) == data[:10]
    upload.seek(5)
    assert upload.read(5) == data[5:10] and other.read(5) == data[10:15]
    assert b"".join(upload.chunks(1024 * 1024)) == data


def test_fields_after_the_file_and_two_files_are_parsed_as_django_does():
    first, second = big(), big(3 * 1024 * 1024 + 99)[::-1]
    raw = body(
        part("file", first, "a.jsonl"), part("other", second, "b.jsonl"), part("purpose", b"x")
    )
    request = request_for(raw)
    assert content(request.FILES["file"]) == first
    assert content(request.FILES["other"]) == second
    assert request.POST["purpose"] == "x"


def test_a_file_that_ends_like_a_boundary_keeps_its_bytes():
    data = big() + b"\r\n--" + BOUNDARY[:-1]  # almost the boundary, not quite
    upload = request_for(body(part("file", data, "t.jsonl"))).FILES["file"]
    assert content(upload) == data


def test_a_base64_part_is_decoded_into_a_copy():
    data = big()
    encoded = base64.encodebytes(data)
    raw = body(part("file", encoded, "t.jsonl", b"Content-Transfer-Encoding: base64\r\n"))
    upload = request_for(raw).FILES["file"]
    assert isinstance(upload, TemporaryUploadedFile)
    assert content(upload) == data


def test_bytes_that_stop_matching_halfway_are_copied_out_whole():
    # The second file starts as the first ends (so its place is first
    # guessed wrong, inside the first) and then differs: the bytes checked
    # so far and the rest are copied out.
    same = os.urandom(PARSE_CHUNK_BYTES)
    first, second = os.urandom(3_000_000) + same, same + b"B" * 3_000_000
    request = request_for(body(part("file", first, "a.jsonl"), part("other", second, "b.jsonl")))
    assert isinstance(request.FILES["file"], SpooledPart)
    assert content(request.FILES["file"]) == first
    assert isinstance(request.FILES["other"], TemporaryUploadedFile)
    assert content(request.FILES["other"]) == second


def test_an_empty_file_is_an_empty_window():
    raw = body(part("purpose", b"p" * 3_000_000), part("file", b"", "empty.jsonl"))
    upload = request_for(raw).FILES["file"]
    assert upload.size == 0 and content(upload) == b""


@pytest.mark.parametrize("bridge", ["wsgi", "asgi"])
@pytest.mark.parametrize("spooled", [True, False])
def test_a_body_not_on_disk_is_left_to_djangos_handlers(spooled, bridge):
    small = b'{"a": 1}\n' * 100
    raw = body(part("file", small, "t.jsonl"))
    upload = request_for(raw, spooled=spooled, bridge=bridge).FILES["file"]
    assert isinstance(upload, InMemoryUploadedFile)
    assert content(upload) == small


def test_a_big_body_not_on_disk_goes_to_a_temporary_file_in_the_spool_directory(spool_dir):
    data = big()
    upload = request_for(body(part("file", data, "t.jsonl")), spooled=False).FILES["file"]
    assert isinstance(upload, TemporaryUploadedFile)
    assert os.path.dirname(upload.temporary_file_path()) == str(spool_dir)
    assert content(upload) == data
