"""The provider contract, run against Together AI."""

from __future__ import annotations

import responses

from ftproxy.providers.base import Provider
from tests.providers.contract import ProviderContract

from .upstream import API, FILE, JOB, KEY, MODEL, file_json, job_json, provider, stub_upload


class TestTogetherContract(ProviderContract):
    model = MODEL
    job_id = JOB
    secret = KEY
    status_cases = [
        ("pending", "queued", False),
        ("queued", "queued", False),
        ("running", "running", False),
        ("compressing", "running", False),
        ("uploading", "running", False),
        ("cancel_requested", "cancelled", False),
        ("cancelled", "cancelled", True),
        ("error", "failed", True),
        ("user_error", "failed", True),
        ("completed", "succeeded", True),
    ]

    def make_provider(self, tmp_path) -> Provider:
        return provider()

    def stub_upload(self, mocked, data: bytes) -> None:
        stub_upload(mocked, file_json(bytes=len(data)))

    def stub_retrieve_file(self, mocked, data: bytes) -> None:
        mocked.add(responses.GET, f"{API}/files/{FILE}", json=file_json(bytes=len(data)))

    def stub_content(self, mocked, data: bytes) -> None:
        mocked.add(responses.GET, f"{API}/files/{FILE}/content", body=data)

    def stub_delete(self, mocked) -> None:
        answer = {"id": FILE, "object": "file", "deleted": True}
        mocked.add(responses.DELETE, f"{API}/files/{FILE}", json=answer)

    def training_file(self, provider: Provider) -> str:
        return FILE

    def stub_create_job(self, mocked) -> None:
        mocked.add(responses.POST, f"{API}/fine-tunes", json=job_json("pending"))

    def stub_job(self, mocked, raw_status: str) -> None:
        mocked.add(responses.GET, self.job_url(), json=job_json(raw_status))

    def stub_cancel(self, mocked) -> None:
        answer = job_json("cancel_requested")
        mocked.add(responses.POST, f"{API}/fine-tunes/{JOB}/cancel", json=answer)

    def stub_events(self, mocked) -> None:
        events = [
            {
                "object": "fine-tune-event",
                "created_at": f"2023-05-17T17:3{n}:00Z",
                "level": level,
                "message": message,
                "type": kind,
                "hash": f"h{n}",
            }
            for n, level, message, kind in (
                (1, "Info", "Job queued", "JOB_PENDING"),
                (2, "Info", "Training started", "TRAINING_START"),
                (3, "Warning", "Loss is high", "WARNING"),
            )
        ]
        mocked.add(responses.GET, f"{API}/fine-tunes/{JOB}/events", json={"data": events})

    def stub_checkpoints(self, mocked) -> None:
        checkpoints = [
            {"step": step, "checkpoint_type": kind, "created_at": f"2023-05-17T18:0{n}:00Z"}
            for n, step, kind in (
                (1, 10, "Intermediate"),
                (2, 20, "Intermediate"),
                (3, 30, "Final"),
            )
        ]
        answer = {"data": checkpoints}
        mocked.add(responses.GET, f"{API}/fine-tunes/{JOB}/checkpoints", json=answer)

    def job_url(self) -> str:
        return f"{API}/fine-tunes/{JOB}"

    def create_url(self) -> str:
        return f"{API}/fine-tunes"
