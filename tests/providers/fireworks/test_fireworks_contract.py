"""The provider contract, run against Fireworks AI."""

from __future__ import annotations

import responses

from ftproxy.providers.base import Provider
from tests.providers.contract import ProviderContract

from .upstream import API, DATASET, JOB, KEY, MODEL, SIGNED, dataset_json, job_json, provider

JOB_URL = f"{API}/supervisedFineTuningJobs/{JOB}"


class TestFireworksContract(ProviderContract):
    model = MODEL
    job_id = JOB
    secret = KEY
    status_cases = [
        ("JOB_STATE_CREATING", "queued", False),
        ("JOB_STATE_UNSPECIFIED", "queued", False),
        ("JOB_STATE_PENDING", "queued", False),
        ("JOB_STATE_CREATING_INPUT_DATASET", "queued", False),
        ("JOB_STATE_RE_QUEUEING", "queued", False),
        ("JOB_STATE_IDLE", "queued", False),
        ("JOB_STATE_VALIDATING", "validating_files", False),
        ("JOB_STATE_RUNNING", "running", False),
        ("JOB_STATE_WRITING_RESULTS", "running", False),
        ("JOB_STATE_PAUSED", "paused", False),
        ("JOB_STATE_CANCELLING", "cancelled", False),
        ("JOB_STATE_DELETING", "cancelled", False),
        ("JOB_STATE_DELETING_CLEANING_UP", "cancelled", False),
        ("JOB_STATE_CANCELLED", "cancelled", True),
        ("JOB_STATE_DELETED", "cancelled", True),
        ("JOB_STATE_COMPLETED", "succeeded", True),
        ("JOB_STATE_EARLY_STOPPED", "succeeded", True),
        ("JOB_STATE_FAILED", "failed", True),
        ("JOB_STATE_EXPIRED", "failed", True),
    ]

    def make_provider(self, tmp_path) -> Provider:
        return provider()

    def stub_upload(self, mocked, data: bytes) -> None:
        mocked.add(responses.POST, f"{API}/datasets", json=dataset_json("UPLOADING"))
        mocked.add(
            responses.POST,
            f"{API}/datasets/{DATASET}:upload",
            json={"id": DATASET, "object": "file", "bytes": len(data), "filename": "train.jsonl"},
        )
        mocked.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())

    def stub_retrieve_file(self, mocked, data: bytes) -> None:
        mocked.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())

    def stub_content(self, mocked, data: bytes) -> None:
        answer = {"filenameToSignedUrls": {"train.jsonl": SIGNED}}
        mocked.add(responses.GET, f"{API}/datasets/{DATASET}:getDownloadEndpoint", json=answer)
        mocked.add(responses.GET, SIGNED, body=data)

    def stub_delete(self, mocked) -> None:
        mocked.add(responses.DELETE, f"{API}/datasets/{DATASET}", json={})

    def training_file(self, provider: Provider) -> str:
        return DATASET

    def stub_create_job(self, mocked) -> None:
        mocked.add(responses.POST, f"{API}/supervisedFineTuningJobs", json=job_json())

    def stub_job(self, mocked, raw_status: str) -> None:
        mocked.add(responses.GET, JOB_URL, json=job_json(raw_status))

    def stub_cancel(self, mocked) -> None:
        mocked.add(responses.POST, f"{JOB_URL}:cancel", json={})
        self.stub_job(mocked, "JOB_STATE_CANCELLING")

    def stub_events(self, mocked) -> None:
        pass  # no event feed: the gateway's status history serves

    def stub_checkpoints(self, mocked) -> None:
        pass  # no checkpoints listing

    def job_url(self) -> str:
        return JOB_URL

    def create_url(self) -> str:
        return f"{API}/supervisedFineTuningJobs"

    def fail_retrieval(self, mocked, status: int, message: str = "upstream says no", **kw):
        """An id that is no supervised job is looked for among the DPO jobs:
        a 404 comes from both collections."""
        failing = super().fail_retrieval(mocked, status, message, **kw)
        if status == 404:
            mocked.add(
                "GET",
                f"{API}/dpoJobs/{JOB}",
                json=self.error_answer(status, message),
                status=status,
            )
        return failing

    def error_answer(self, status: int, message: str) -> dict:
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND"}
        return {"error": {"code": status, "message": message, "status": names.get(status, "")}}
