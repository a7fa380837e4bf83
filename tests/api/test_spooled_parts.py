"""A big uploaded file is written once, in large reads, into a named
temporary file in ``FILE_UPLOAD_TEMP_DIR`` (Django's upload-handler API),
and can be read twice at once; everything else is parsed as Django does."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
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


class Reads(io.BytesIO):
    """A request body that counts the sizes it is read in."""

    def __init__(self, raw: bytes):
        super().__init__(raw)
        self.sizes: list[int] = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


def request_for(raw: bytes) -> WSGIRequest:
    """A request as a WSGI server hands it over, with the route's handlers."""
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v1/files",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "multipart/form-data; boundary=" + BOUNDARY.decode(),
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": Reads(raw),
        }
    )
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


def test_a_big_file_is_one_temporary_file_in_the_spool_directory_read_in_large_chunks(
    spool_dir,
):
    data = big()
    raw = body(part("purpose", b"fine-tune"), part("file", data, "t.jsonl"))
    request = request_for(raw)
    upload = request.FILES["file"]
    assert isinstance(upload, SpooledPart)
    assert request.POST["purpose"] == "fine-tune"
    assert (upload.name, upload.size, upload.content_type) == (
        "t.jsonl",
        len(data),
        "application/jsonl",
    )
    assert content(upload) == data
    assert [p.name for p in spool_dir.iterdir()] == [os.path.basename(upload.temporary_file_path())]
    assert max(request.META["wsgi.input"].sizes) == PARSE_CHUNK_BYTES  # not Django's 64 KiB
    # another reader (from the file part, or from its file, which views hand
    # on) has a position of its own, and closes with the file
    assert upload.file.reopen().read(3) == data[:3]
    other = upload.reopen()
    assert other.read(10) == data[:10]
    upload.seek(5)
    assert upload.read(5) == data[5:10] and other.read(5) == data[10:15]
    assert b"".join(upload.chunks(1024 * 1024)) == data
    upload.close()
    assert other.closed
    assert list(spool_dir.iterdir()) == []


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


def test_a_base64_part_is_decoded():
    data = big()
    encoded = base64.encodebytes(data)
    raw = body(part("file", encoded, "t.jsonl", b"Content-Transfer-Encoding: base64\r\n"))
    upload = request_for(raw).FILES["file"]
    assert isinstance(upload, SpooledPart)
    assert content(upload) == data


def test_an_empty_file_is_empty():
    raw = body(part("purpose", b"p" * 3_000_000), part("file", b"", "empty.jsonl"))
    upload = request_for(raw).FILES["file"]
    assert upload.size == 0 and content(upload) == b""


def test_a_small_file_stays_in_memory():
    small = b'{"a": 1}\n' * 100
    upload = request_for(body(part("file", small, "t.jsonl"))).FILES["file"]
    assert isinstance(upload, InMemoryUploadedFile)
    assert content(upload) == small


class Counting(FileUploadHandler):
    """A host's own handler: kept, in its place."""

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


def test_handlers_of_the_hosts_own_are_kept(settings):
    settings.FILE_UPLOAD_HANDLERS = [
        f"{__name__}.Counting",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    request = request_for(body(part("file", big(), "t.jsonl")))
    assert [type(h).__name__ for h in request.upload_handlers] == [
        "Counting",
        "SpooledUploadHandler",
    ]
    assert isinstance(request.FILES["file"], SpooledPart)
