"""The provider contract, run against OpenAI, Azure OpenAI with a dated
api-version and Azure OpenAI v1."""

from __future__ import annotations

from typing import Any, ClassVar

from ftproxy.providers.base import Provider
from tests.providers.contract import ProviderContract

from .upstreams import (
    AZURE_DATED,
    AZURE_V1,
    OPENAI,
    Upstream,
    error_body,
    expect,
    file_json,
    job_json,
)

FILE = "file-abc123"
JOB = "ftjob-contract"


class OpenAIShapedContract(ProviderContract):
    """The stubs of an OpenAI-shaped upstream; subclasses name which."""

    upstream: ClassVar[Upstream]
    model = "gpt-4o-mini-2024-07-18"
    job_id = JOB
    status_cases = [
        ("validating_files", "validating_files", False),
        ("queued", "queued", False),
        ("running", "running", False),
        ("succeeded", "succeeded", True),
        ("failed", "failed", True),
        ("cancelled", "cancelled", True),
    ]

    def make_provider(self, tmp_path) -> Provider:
        return self.upstream.provider()

    def stub_upload(self, mocked, data: bytes) -> None:
        expect(mocked, self.upstream, "POST", "files", body=file_json(id=FILE, bytes=len(data)))

    def stub_retrieve_file(self, mocked, data: bytes) -> None:
        expect(mocked, self.upstream, "GET", f"files/{FILE}", body=file_json(id=FILE))

    def stub_content(self, mocked, data: bytes) -> None:
        mocked.add("GET", self.upstream.url(f"files/{FILE}/content"), body=data)

    def stub_delete(self, mocked) -> None:
        answer = {"id": FILE, "object": "file", "deleted": True}
        expect(mocked, self.upstream, "DELETE", f"files/{FILE}", body=answer)

    def stub_create_job(self, mocked) -> None:
        expect(mocked, self.upstream, "POST", "fine_tuning/jobs", body=job_json(id=JOB))

    def stub_job(self, mocked, raw_status: str) -> None:
        answer = job_json(id=JOB, status=raw_status)
        expect(mocked, self.upstream, "GET", f"fine_tuning/jobs/{JOB}", body=answer)

    def stub_cancel(self, mocked) -> None:
        answer = job_json(id=JOB, status="cancelled")
        expect(mocked, self.upstream, "POST", f"fine_tuning/jobs/{JOB}/cancel", body=answer)

    def stub_pause(self, mocked, action: str) -> None:
        answer = job_json(id=JOB, status="paused" if action == "pause" else "running")
        expect(mocked, self.upstream, "POST", f"fine_tuning/jobs/{JOB}/{action}", body=answer)

    def stub_events(self, mocked) -> None:
        events = [
            {"id": f"ftevent-{n}", "created_at": 1700000000 + n, "level": "info", "message": "m"}
            for n in (2, 1)
        ]
        answer = {"object": "list", "data": events, "has_more": False}
        path = f"fine_tuning/jobs/{JOB}/events"
        expect(mocked, self.upstream, "GET", path, body=answer, query={"limit": "10"})

    def stub_checkpoints(self, mocked) -> None:
        checkpoints = [
            {
                "id": f"ftckpt-{n}",
                "created_at": 1700000000 + n,
                "fine_tuned_model_checkpoint": f"ft:gpt-4o-mini:org::abc:ckpt-step-{n}",
                "step_number": n,
                "metrics": {"step": n},
            }
            for n in (20, 10)
        ]
        answer = {"object": "list", "data": checkpoints, "has_more": False}
        path = f"fine_tuning/jobs/{JOB}/checkpoints"
        expect(mocked, self.upstream, "GET", path, body=answer, query={"limit": "10"})

    def job_url(self) -> str:
        return self.upstream.url(f"fine_tuning/jobs/{JOB}")

    def create_url(self) -> str:
        return self.upstream.url("fine_tuning/jobs")

    def error_answer(self, status: int, message: str) -> dict[str, Any]:
        return error_body(self.upstream, message)


class TestOpenAIContract(OpenAIShapedContract):
    upstream = OPENAI
    secret = OPENAI.entry["api_key"]


class TestAzureDatedContract(OpenAIShapedContract):
    upstream = AZURE_DATED
    secret = AZURE_DATED.entry["api_key"]
    # Azure's words for a job not yet running read as queued.
    status_cases = [
        *OpenAIShapedContract.status_cases,
        ("pending", "queued", False),
        ("notRunning", "queued", False),
    ]


class TestAzureV1Contract(OpenAIShapedContract):
    upstream = AZURE_V1
    secret = AZURE_V1.entry["api_key"]


class TestAzureV1OpenModelContract(TestAzureV1Contract):
    """Azure AI Foundry's open models: the same shape, sent on Global training
    (the only tier they train on) even when the job names none."""

    model = "Qwen-32B"

    def stub_create_job(self, mocked) -> None:
        sent = {
            "model": self.model,
            "training_file": "file-contract",
            "trainingType": "GlobalStandard",
        }
        answer = job_json(id=JOB, model=self.model)
        expect(mocked, self.upstream, "POST", "fine_tuning/jobs", body=answer, json_body=sent)
