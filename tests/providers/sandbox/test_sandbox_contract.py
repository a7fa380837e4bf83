"""The provider contract, run against the sandbox (no upstream: its state
lives on disk and its clock is the job's stage lengths)."""

from __future__ import annotations

import io

from ftproxy.providers.base import Provider
from ftproxy.providers.data import FileUpload, JobCreate, RemoteJob
from ftproxy.providers.sandbox import SandboxProvider
from tests.providers.contract import ProviderContract, chat_jsonl

#: Stage lengths (validate, queue, run) that hold a new job in each status.
STAGES = {
    "validating_files": (3600, 0, 3600),
    "queued": (0, 3600, 3600),
    "running": (0, 0, 3600),
    "succeeded": (0, 0, 0),
    "failed": (0, 0, 0),
    "cancelled": (0, 0, 3600),
}


class TestSandboxContract(ProviderContract):
    speaks_http = False
    model = "gpt-4o-mini-2024-07-18"
    status_cases = [
        ("running", "running", False),
        ("validating_files", "validating_files", False),
        ("queued", "queued", False),
        ("succeeded", "succeeded", True),
        ("failed", "failed", True),
        ("cancelled", "cancelled", True),
    ]

    def make_provider(self, tmp_path, stages=(0, 0, 3600)) -> Provider:
        validate, queue, run = stages
        self.storage = tmp_path
        return SandboxProvider(
            {
                "custom_llm_provider": "sandbox",
                "name": "sandbox",
                "storage_dir": str(tmp_path / "sandbox"),
                "validate_seconds": validate,
                "queue_seconds": queue,
                "run_seconds": run,
            }
        )

    # Nothing goes over HTTP: every stub answers nothing.
    def stub_upload(self, mocked, data):
        pass

    stub_retrieve_file = stub_content = stub_upload

    def stub_delete(self, mocked):
        pass

    stub_create_job = stub_cancel = stub_events = stub_checkpoints = stub_delete

    def stub_pause(self, mocked, action):
        pass

    stub_job = stub_pause

    def training_file(self, provider: Provider) -> str:
        data = chat_jsonl()
        upload = FileUpload("train.jsonl", "fine-tune", io.BytesIO(data), len(data))
        return provider.upload_file(upload).remote_id

    def job_in(self, mocked, provider: Provider, raw: str) -> RemoteJob:
        sandbox = self.make_provider(self.storage, STAGES[raw])
        job = sandbox.create_job(
            JobCreate(
                model=self.model,
                training_file=self.training_file(sandbox),
                suffix="fail" if raw == "failed" else None,
            )
        )
        if raw == "cancelled":
            return sandbox.cancel_job(job.remote_id)
        return sandbox.retrieve_job(job.remote_id)
