"""Upstreams for jobs across providers, behind ``responses``: OpenAI (where
files are uploaded), Vertex AI with Cloud Storage, and Azure OpenAI."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses

from tests.conftest import TRAINING
from tests.providers.vertex.helpers import (
    API,
    BUCKET,
    GCS,
    JOB_NAME,
    PROJECT,
    mock_token,
    service_account_info,
    tuning_job,
)

OPENAI = "https://api.openai.test/v1"
AZURE = "https://res.openai.azure.com/openai/v1"
AZURE_DATED = "https://dated.openai.azure.com/openai"
UPLOAD_START = f"{GCS}/upload/storage/v1/b/{BUCKET}/o"
SESSION = re.compile(re.escape(f"{GCS}/upload/session/") + r"\d+")
CONTENT = f"{OPENAI}/files/file-up-1/content"
GEMINI = "gemini-2.0-flash-001"


def entries() -> dict[str, list[dict[str, Any]]]:
    openai = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": OPENAI}
    azure = {
        "custom_llm_provider": "azure",
        "api_key": "az-key",
        "api_base": "https://res.openai.azure.com",
        "api_version": "v1",
    }
    dated = {
        "custom_llm_provider": "azure",
        "name": "azure-dated",
        "api_key": "az-dated",
        "api_base": "https://dated.openai.azure.com",
        "api_version": "2024-10-21",
    }
    vertex = {
        "custom_llm_provider": "vertex_ai",
        "vertex_project": PROJECT,
        "vertex_location": "us-central1",
        "vertex_credentials": json.dumps(service_account_info()),
    }
    everywhere = [openai, azure, dated, vertex]
    fine_tuning = [{**e, "max_retries": 0} for e in everywhere]
    fine_tuning.append({**vertex, "name": "vertex-eu", "max_retries": 0})  # no files entry
    files = [{**e, "max_retries": 0} for e in everywhere]
    files[3]["gcs_bucket_name"] = f"{BUCKET}/team-a"
    return {"finetune_settings": fine_tuning, "files_settings": files}


class Upstreams:
    """OpenAI, Cloud Storage + Vertex AI and Azure behind ``responses``."""

    def __init__(self, rsps: responses.RequestsMock, content: bytes = TRAINING):
        self.rsps = rsps
        self.gcs_puts: list[Any] = []
        self.tuning_jobs: list[dict[str, Any]] = []
        self.azure_uploads: list[Any] = []
        self.azure_jobs: list[dict[str, Any]] = []
        self.openai_jobs: list[dict[str, Any]] = []
        #: What Azure says of an upload it has just received.
        self.azure_file_status = "processed"
        self._sessions = iter(range(1000))
        mock_token(rsps)
        rsps.add(
            responses.POST,
            f"{OPENAI}/files",
            json={
                "id": "file-up-1",
                "object": "file",
                "bytes": len(content),
                "created_at": 1_700_000_000,
                "filename": "train.jsonl",
                "purpose": "fine-tune",
                "status": "processed",
            },
        )
        rsps.add(responses.GET, CONTENT, body=content, content_type="application/octet-stream")
        rsps.add_callback(responses.POST, UPLOAD_START, callback=self._start)
        rsps.add_callback(responses.PUT, SESSION, callback=self._put)
        rsps.add_callback(responses.POST, f"{API}/tuningJobs", callback=self._tuning_job)
        rsps.add_callback(responses.POST, f"{OPENAI}/fine_tuning/jobs", callback=self._openai_job)
        rsps.add_callback(responses.POST, f"{AZURE}/files", callback=self.azure_upload)
        rsps.add_callback(responses.POST, f"{AZURE}/fine_tuning/jobs", callback=self.azure_job)
        rsps.add_callback(
            responses.GET, f"{AZURE}/fine_tuning/jobs/ftjob-az-1/events", callback=self._events
        )

    def _events(self, request):
        event = {
            "object": "fine_tuning.job.event",
            "id": "ftevent-az-2",
            "created_at": 1_700_000_300,
            "level": "info",
            "message": "Job started",
            "type": "message",
        }
        data = [] if "after=ftevent-az-2" in request.url else [event]
        return 200, {}, json.dumps({"object": "list", "data": data, "has_more": False})

    def _start(self, request):
        return 200, {"Location": f"{GCS}/upload/session/{next(self._sessions)}"}, ""

    def _put(self, request):
        self.gcs_puts.append(streamed(request.body))
        return 200, {}, json.dumps({"name": "object"})

    def _tuning_job(self, request):
        body = json.loads(request.body)
        self.tuning_jobs.append(body)
        spec = "preferenceOptimizationSpec" if "preferenceOptimizationSpec" in body else None
        job = tuning_job(
            "JOB_STATE_PENDING",
            name=f"{JOB_NAME[: JOB_NAME.rindex('/')]}/{len(self.tuning_jobs)}",
            **{spec or "supervisedTuningSpec": body[spec or "supervisedTuningSpec"]},
        )
        return 200, {}, json.dumps(job)

    def azure_upload(self, request):
        self.azure_uploads.append((request.headers["Content-Type"], streamed(request.body)))
        n = len(self.azure_uploads)
        return (
            200,
            {},
            json.dumps(
                {
                    "id": f"file-az-{n}",
                    "object": "file",
                    "bytes": len(TRAINING),
                    "created_at": 1_700_000_050,
                    "filename": "train.jsonl",
                    "purpose": "fine-tune",
                    "status": self.azure_file_status,
                }
            ),
        )

    def _openai_job(self, request):
        return self._job(request, self.openai_jobs, "ftjob-oa")

    def azure_job(self, request):
        return self._job(request, self.azure_jobs, "ftjob-az")

    def _job(self, request, seen: list[dict[str, Any]], prefix: str):
        body = json.loads(request.body)
        seen.append(body)
        return (
            200,
            {},
            json.dumps(
                {
                    "id": f"{prefix}-{len(seen)}",
                    "object": "fine_tuning.job",
                    "created_at": 1_700_000_100,
                    "model": body["model"],
                    "status": "pending",
                    "training_file": body["training_file"],
                    "hyperparameters": {"n_epochs": 3},
                    "organization_id": "org-az",
                    "result_files": [],
                }
            ),
        )

    def downloads(self) -> int:
        return sum(1 for c in self.rsps.calls if c.request.url.split("?")[0] == CONTENT)


@pytest.fixture
def upstreams(gateway_config):
    gateway_config(entries())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Upstreams(rsps)


@pytest.fixture
def alice(api_as, make_key):
    return api_as(make_key("alice"))


def upload(api, content: bytes = TRAINING) -> str:
    response = api.upload(content, extra={"custom_llm_provider": "openai"})
    assert response.status_code == 200, response.content
    return response.json()["id"]


def create(api, provider: str, model: str = GEMINI, **fields):
    return api.post_json(
        "/v1/fine_tuning/jobs", {"model": model, "custom_llm_provider": provider, **fields}
    )


def streamed(body: Any) -> bytes:
    """The bytes of a request body, which must have been streamed (an
    iterable of chunks, never one bytes object held whole)."""
    assert not isinstance(body, bytes | str), "the upload was not streamed"
    return b"".join(body)
