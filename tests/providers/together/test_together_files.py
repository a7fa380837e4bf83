"""Together AI files: the signed-URL upload of the ``together`` SDK, its
duplicate answer, and multipart uploads for large files."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import responses
from requests_toolbelt import MultipartDecoder

from ftproxy.errors import ProviderFailure, ProviderInputError
from ftproxy.providers.data import FileUpload
from ftproxy.providers.together import TogetherProvider

from .upstream import API, FILE, KEY, STORAGE, entry, file_json, provider, stub_upload

DATA = (
    b'{"messages": [{"role": "user", "content": "Hi"}, '
    b'{"role": "assistant", "content": "Hello"}]}\n'
)


def upload(data: bytes = DATA, **fields) -> FileUpload:
    return FileUpload(
        "train.jsonl", fields.pop("purpose", "fine-tune"), io.BytesIO(data), len(data), **fields
    )


def form(call) -> dict[str, str]:
    decoder = MultipartDecoder(call.request.body, call.request.headers["Content-Type"])
    fields = {}
    for part in decoder.parts:
        name = part.headers[b"Content-Disposition"].decode().split('name="')[1].split('"')[0]
        fields[name] = part.text
    return fields


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mocked:
        yield mocked


def test_a_file_is_announced_put_to_the_signed_url_and_processed(rsps):
    stub_upload(rsps)
    created = provider().upload_file(upload())
    announce, put, preprocess = rsps.calls
    assert form(announce) == {
        "purpose": "fine-tune",
        "file_name": "train.jsonl",
        "file_type": "jsonl",
        "checksum": hashlib.sha256(DATA).hexdigest(),
    }
    assert announce.request.headers["Authorization"] == f"Bearer {KEY}"
    # The signed URL is another host: the bytes go there, the key does not.
    assert put.request.url == STORAGE and "Authorization" not in put.request.headers
    assert b"".join(put.request.body) == DATA
    assert put.request.headers["Content-Length"] == str(len(DATA))
    assert preprocess.request.url == f"{API}/files/{FILE}/preprocess"
    # Together counts bytes after processing: the upload's size stands in.
    assert (created.remote_id, created.bytes, created.status) == (FILE, len(DATA), "processed")


def test_bytes_uploaded_before_are_that_file(rsps):
    rsps.add(responses.POST, f"{API}/files", status=409, json={"file_id": "file-earlier"})
    rsps.add(responses.GET, f"{API}/files/file-earlier", json=file_json(id="file-earlier", bytes=9))
    created = provider().upload_file(upload())
    assert (created.remote_id, created.bytes) == ("file-earlier", 9)


def test_an_announce_without_a_signed_url_is_a_502(rsps):
    rsps.add(responses.POST, f"{API}/files", status=302, headers={"X-Together-File-Id": FILE})
    with pytest.raises(ProviderFailure) as caught:
        provider().upload_file(upload())
    assert caught.value.status_code == 502


def test_a_refused_put_is_a_502_and_nothing_is_processed(rsps):
    rsps.add(
        responses.POST,
        f"{API}/files",
        status=302,
        headers={"Location": STORAGE, "X-Together-File-Id": FILE},
    )
    rsps.add(responses.PUT, STORAGE, status=500)
    with pytest.raises(ProviderFailure):
        provider().upload_file(upload())
    assert len(rsps.calls) == 2


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"purpose": "batch"}, "purpose"),
        ({"expires_after": {"anchor": "created_at", "seconds": 3600}}, "expires_after"),
    ],
)
def test_what_together_files_cannot_be_is_a_400(fields, param):
    with pytest.raises(ProviderInputError) as caught:
        provider().check_upload(upload(**fields))
    assert caught.value.param == param


class SmallParts(TogetherProvider):
    """Multipart from 10 bytes on, in parts of 8 bytes (the together SDK's
    rule, scaled down)."""

    multipart_threshold_bytes = 10
    part_target_bytes = 8
    part_min_bytes = 1


def multipart_answer(count: int) -> dict:
    parts = [
        {"PartNumber": n, "URL": f"{STORAGE}/part{n}", "Headers": {"x-amz-meta": "1"}}
        for n in range(1, count + 1)
    ]
    return {"upload_id": "up-1", "file_id": FILE, "parts": parts}


def test_a_large_file_goes_up_in_parts(rsps):
    data = b"0123456789abcdefghij"  # 20 bytes: 3 parts of 7, 7 and 6
    rsps.add(responses.POST, f"{API}/files/multipart/initiate", json=multipart_answer(3))
    for n in (1, 2, 3):
        rsps.add(responses.PUT, f"{STORAGE}/part{n}", headers={"ETag": f'"etag{n}"'})
    rsps.add(
        responses.POST,
        f"{API}/files/multipart/complete",
        json={"file": file_json(bytes=len(data))},
    )
    created = SmallParts(entry()).upload_file(upload(data))
    initiate, *puts, complete = rsps.calls
    sent = json.loads(initiate.request.body)
    assert sent == {
        "file_name": "train.jsonl",
        "file_size": 20,
        "num_parts": 3,
        "purpose": "fine-tune",
        "file_type": "jsonl",
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    assert b"".join(b"".join(p.request.body) for p in puts) == data
    assert all("Authorization" not in p.request.headers for p in puts)
    assert puts[0].request.headers["x-amz-meta"] == "1"
    assert json.loads(complete.request.body) == {
        "upload_id": "up-1",
        "file_id": FILE,
        "parts": [{"part_number": n, "etag": f"etag{n}"} for n in (1, 2, 3)],
    }
    assert (created.remote_id, created.bytes) == (FILE, 20)


def test_a_failed_part_aborts_the_multipart_upload(rsps):
    data = b"0123456789abcdefghij"
    rsps.add(responses.POST, f"{API}/files/multipart/initiate", json=multipart_answer(3))
    rsps.add(responses.PUT, f"{STORAGE}/part1", status=500)
    abort = rsps.add(responses.POST, f"{API}/files/multipart/abort", json={})
    with pytest.raises(ProviderFailure):
        SmallParts(entry()).upload_file(upload(data))
    assert abort.call_count == 1
    assert json.loads(rsps.calls[-1].request.body) == {"upload_id": "up-1", "file_id": FILE}


def test_entry_checks_name_the_key():
    from ftproxy.errors import EntryError

    with pytest.raises(EntryError) as caught:
        TogetherProvider.check_entry({"api_key": "k", "api_base": "ftp://x"})
    assert caught.value.key == "api_base"
    with pytest.raises(EntryError) as caught:
        TogetherProvider.check_entry({"api_key": "k", "wandb_api_key": ""})
    assert caught.value.key == "wandb_api_key"
