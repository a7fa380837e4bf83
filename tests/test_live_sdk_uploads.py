"""The SDK's ``uploads.upload_file_chunked`` against the running gateway, on
every kind of provider entry: the sandbox, OpenAI (forwarded part by part to
its own Uploads API), Azure with a dated api-version and Vertex AI (parts
assembled by the gateway, then one streamed upload). Each time the file
that comes out is byte-identical and trains a job.

The upstreams are played by ``responses``; each one keeps what it received.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
import responses
from requests_toolbelt import MultipartDecoder

from ftproxy.models import File, Upload
from ftproxy.services.uploads import store as upload_store
from tests.conftest import MASTER_KEY, chat_line, jsonl
from tests.test_live_sdk_vertex import Vertex, sdk_as, token_endpoint  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

#: ~40 KB of chat lines with non-ASCII text: with 16 000-byte parts, three
#: parts whose boundaries fall inside lines.
DATA = jsonl(*(chat_line(f"Frage {i}: grüß dich?", f"Antwort {i} 👋" * 5) for i in range(160)))
PART = 16_000
OPENAI_BASE = "https://api.openai.test/v1"
AZURE_BASE = "https://dated-res.openai.azure.com/openai"


def chunked(sdk: openai.OpenAI, data: bytes = DATA, **kwargs: Any):
    return sdk.uploads.upload_file_chunked(
        file=data,
        filename="big.jsonl",
        bytes=len(data),
        mime_type="text/jsonl",
        purpose="fine-tune",
        part_size=PART,
        **kwargs,
    )


def parts_of(data: bytes) -> int:
    return -(-len(data) // PART)


class OpenAIUpstream:
    """Files, Uploads and jobs of an OpenAI-shaped upstream, with state."""

    def __init__(self, rsps: responses.RequestsMock, base: str):
        self.base = base
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.parts: dict[str, bytes] = {}
        self.jobs: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        pattern = re.compile(re.escape(base) + r"/.*")
        for method in (responses.GET, responses.POST):
            rsps.add_callback(method, pattern, callback=self._answer)

    def _answer(self, request):
        path = urlsplit(request.url).path[len(urlsplit(self.base).path) :].strip("/")
        self.calls.append((request.method, path))
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            body = b"".join(body)  # streamed
        if isinstance(body, str):
            body = body.encode()
        segments = path.split("/")
        if request.method == "POST" and path == "uploads":
            spec = json.loads(body)
            upload_id = f"upload_up{len(self.uploads) + 1}"
            self.uploads[upload_id] = {
                **spec,
                "id": upload_id,
                "object": "upload",
                "status": "pending",
                "created_at": int(time.time()),
                "expires_at": int(time.time()) + 3600,
            }
            return self._json(self.uploads[upload_id])
        if request.method == "POST" and segments[0] == "uploads" and segments[2] == "parts":
            decoded = MultipartDecoder(body, request.headers["Content-Type"])
            (field,) = decoded.parts
            assert b'name="data"' in field.headers[b"Content-Disposition"]
            part_id = f"part_up{len(self.parts) + 1}"
            self.parts[part_id] = field.content
            return self._json({"id": part_id, "object": "upload.part", "upload_id": segments[1]})
        if request.method == "POST" and segments[0] == "uploads" and segments[2] == "complete":
            spec = json.loads(body)
            content = b"".join(self.parts[p] for p in spec["part_ids"])
            if "md5" in spec:
                assert spec["md5"] == hashlib.md5(content).hexdigest()
            upload = self.uploads[segments[1]]
            file_id = self._store(content, upload["filename"], upload["purpose"])
            upload.update(status="completed", file=self._file(file_id))
            return self._json(upload)
        if request.method == "POST" and segments[0] == "uploads" and segments[2] == "cancel":
            self.uploads[segments[1]]["status"] = "cancelled"
            return self._json(self.uploads[segments[1]])
        if request.method == "POST" and path == "files":
            decoded = MultipartDecoder(body, request.headers["Content-Type"])
            content = next(
                p.content
                for p in decoded.parts
                if b'name="file"' in p.headers[b"Content-Disposition"]
            )
            return self._json(self._file(self._store(content, "big.jsonl", "fine-tune")))
        if request.method == "GET" and path.endswith("/content"):
            return 200, {"Content-Type": "application/octet-stream"}, self.files[segments[1]]
        if request.method == "POST" and path == "fine_tuning/jobs":
            spec = json.loads(body)
            self.jobs.append(spec)
            return self._json(
                {
                    "id": f"ftjob-up{len(self.jobs)}",
                    "object": "fine_tuning.job",
                    "created_at": 1_700_000_100,
                    "model": spec["model"],
                    "status": "queued",
                    "training_file": spec["training_file"],
                    "hyperparameters": {},
                    "result_files": [],
                }
            )
        return 404, {}, json.dumps({"error": {"message": f"no route {path}"}})

    def _store(self, content: bytes, filename: str, purpose: str) -> str:
        file_id = f"file-up{len(self.files) + 1}"
        self.files[file_id] = content
        self._meta = {**getattr(self, "_meta", {}), file_id: (filename, purpose)}
        return file_id

    def _file(self, file_id: str) -> dict[str, Any]:
        filename, purpose = self._meta[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(self.files[file_id]),
            "created_at": 1_700_000_050,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }

    @staticmethod
    def _json(data: dict[str, Any]):
        return 200, {"Content-Type": "application/json"}, json.dumps(data)


@pytest.fixture
def sdk(live_server):
    clients: list[openai.OpenAI] = []

    def connect(provider: str | None = None, key: str = MASTER_KEY) -> openai.OpenAI:
        headers = {"custom-llm-provider": provider} if provider else None
        client = openai.OpenAI(
            api_key=key, base_url=f"{live_server.url}/v1", max_retries=0, default_headers=headers
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def assert_completed(upload, data: bytes = DATA) -> File:
    assert (upload.object, upload.status, upload.bytes) == ("upload", "completed", len(data))
    assert upload.file is not None and upload.file.bytes == len(data)
    row = Upload.objects.get(public_id=upload.id)
    assert row.parts.count() == parts_of(data) >= 3
    assert row.storage_freed and not upload_store.storage().exists(row.public_id)
    return File.objects.get(public_id=upload.file.id)


def test_chunked_upload_on_the_sandbox_trains_a_job(sdk, gateway_config, sandbox_entry):
    gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 0}],
            "files_settings": [sandbox_entry],
        }
    )
    client = sdk()
    upload = chunked(client, md5=hashlib.md5(DATA).hexdigest())
    assert_completed(upload)
    assert client.files.retrieve(upload.file.id).bytes == len(DATA)
    assert client.files.content(upload.file.id).read() == DATA
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload.file.id)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_chunked_upload_on_openai_is_forwarded_part_by_part(sdk, gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": OPENAI_BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    client = sdk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = OpenAIUpstream(rsps, OPENAI_BASE)
        upload = chunked(client, md5=hashlib.md5(DATA).hexdigest())
        row = assert_completed(upload)
        # The upstream's own Uploads API carried it: one part per part, no POST files.
        assert [c for c in upstream.calls if c[0] == "POST"] == [
            ("POST", "uploads"),
            *[("POST", "uploads/upload_up1/parts")] * parts_of(DATA),
            ("POST", "uploads/upload_up1/complete"),
        ]
        assert json.loads(rsps.calls[0].request.body) == {
            "filename": "big.jsonl",
            "purpose": "fine-tune",
            "bytes": len(DATA),
            "mime_type": "text/jsonl",
        }
        assert upstream.files[row.remote_id] == DATA
        assert (upload.file.id, row.remote_id) == ("file-up1", "file-up1")
        assert client.files.content(upload.file.id).read() == DATA
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload.file.id)
        assert upstream.jobs[0]["training_file"] == "file-up1"
        assert job.training_file == upload.file.id


def test_chunked_upload_on_dated_azure_is_assembled_and_sent_once(sdk, gateway_config):
    entry = {
        "custom_llm_provider": "azure",
        "api_key": "azure-key",
        "api_base": "https://dated-res.openai.azure.com",
        "api_version": "2024-10-21",
    }
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    client = sdk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = OpenAIUpstream(rsps, AZURE_BASE)
        upload = chunked(client)
        row = assert_completed(upload)
        # Nothing reached Azure before complete, then one streamed POST files.
        assert [c for c in upstream.calls if c[0] == "POST"] == [("POST", "files")]
        assert rsps.calls[0].request.headers["api-key"] == "azure-key"
        assert "api-version=2024-10-21" in rsps.calls[0].request.url
        assert upstream.files[row.remote_id] == DATA
        assert client.files.content(upload.file.id).read() == DATA
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload.file.id)
        assert upstream.jobs[0]["training_file"] == row.remote_id


def test_chunked_upload_on_vertex_goes_to_cloud_storage(sdk_as, token_endpoint):  # noqa: F811
    client = sdk_as(MASTER_KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        vertex = Vertex(rsps, token_endpoint.uri)
        rsps.add_callback(
            responses.GET,
            re.compile(re.escape("https://storage.googleapis.com/storage/v1/b/") + r".*"),
            callback=lambda request: (200, {}, vertex.puts[0]),
        )
        upload = chunked(client)
        row = assert_completed(upload)
        # The user's bytes as assembled, and the Gemini conversion of all 160 lines.
        assert vertex.puts[0] == DATA
        converted = vertex.puts[1].splitlines()
        assert len(converted) == 160
        assert json.loads(converted[0])["contents"][0]["parts"][0]["text"].startswith("Frage 0")
        assert row.remote_id.endswith("/gemini/big.jsonl")
        assert client.files.content(upload.file.id).read() == DATA
        client.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=upload.file.id)
        assert vertex.created[0]["supervisedTuningSpec"]["trainingDatasetUri"] == row.remote_id


def test_a_bad_line_across_parts_is_refused_before_the_upstream_completes(sdk, gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": OPENAI_BASE}
    gateway_config({"files_settings": [entry]})
    client = sdk()
    bad = DATA[: PART - 5] + b"{oops\n" + DATA[PART - 5 :]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = OpenAIUpstream(rsps, OPENAI_BASE)
        with pytest.raises(openai.BadRequestError) as caught:
            chunked(client, bad)
        assert ("POST", "uploads/upload_up1/complete") not in upstream.calls
    assert caught.value.param == "file"
    assert re.search(r"[Ll]ine \d+", caught.value.message)
    assert Upload.objects.get().status == "pending"  # the client may cancel or retry
