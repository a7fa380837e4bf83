"""The provider contract, run against Vertex AI (tuning jobs) and Cloud
Storage (files), with a real service-account key signing the token request."""

from __future__ import annotations

import json
import re
from typing import Any

import responses

from ftproxy.providers.base import Provider
from tests.providers.contract import ProviderContract

from .helpers import (
    API,
    API_BETA,
    BUCKET,
    GCS,
    JOB_NAME,
    JOB_URL,
    mock_token,
    provider,
    service_account_info,
    tuning_job,
)
from .test_vertex_jobs import STATES

OBJECTS = re.compile(rf"{re.escape(GCS)}/storage/v1/b/{BUCKET}/o/.+")
SESSIONS = f"{GCS}/upload/session"


class TestVertexContract(ProviderContract):
    model = "gemini-2.0-flash-001"
    job_id = JOB_NAME
    # The service account's private key is the credential.
    secret = service_account_info()["private_key"].splitlines()[1]
    status_cases = STATES

    def make_provider(self, tmp_path) -> Provider:
        return provider(api="files_settings", max_retries=2)

    def stub_auth(self, mocked) -> None:
        mock_token(mocked)

    def stub_upload(self, mocked, data: bytes) -> None:
        # Each object is a resumable session: opened by a POST, sent by a PUT.
        for session in range(2):
            mocked.add(
                responses.POST,
                f"{GCS}/upload/storage/v1/b/{BUCKET}/o",
                headers={"Location": f"{SESSIONS}/{session}"},
            )
            mocked.add(responses.PUT, f"{SESSIONS}/{session}", json={"name": "x"})

    def stub_retrieve_file(self, mocked, data: bytes) -> None:
        pass  # the ledger is authoritative: retrieve_file answers None

    def stub_content(self, mocked, data: bytes) -> None:
        mocked.add(responses.GET, OBJECTS, body=data, content_type="application/jsonl")

    def stub_delete(self, mocked) -> None:
        mocked.add(responses.DELETE, OBJECTS, status=204)

    def training_file(self, provider: Provider) -> str:
        return f"gs://{BUCKET}/team-a/ftproxy/{'0' * 32}/gemini/train.jsonl"

    def stub_create_job(self, mocked) -> None:
        mocked.add(responses.POST, f"{API}/tuningJobs", json=tuning_job("JOB_STATE_PENDING"))

    def stub_job(self, mocked, raw_status: str) -> None:
        mocked.add(responses.GET, JOB_URL, json=tuning_job(raw_status))

    def stub_cancel(self, mocked) -> None:
        mocked.add(responses.POST, f"{JOB_URL}:cancel", json={})
        self.stub_job(mocked, "JOB_STATE_CANCELLED")

    def stub_events(self, mocked) -> None:
        pass  # no event feed: the gateway's status history serves

    def stub_checkpoints(self, mocked) -> None:
        checkpoints = [
            {"checkpointId": str(n), "epoch": str(n), "step": str(10 * n), "endpoint": f"e/{n}"}
            for n in (1, 2, 3)
        ]
        tuned = {"model": "m", "endpoint": "e/3", "checkpoints": checkpoints}
        answer = tuning_job("JOB_STATE_SUCCEEDED", tunedModel=tuned)
        mocked.add(responses.GET, JOB_URL, json=answer)

    def job_url(self) -> str:
        return JOB_URL

    def create_url(self) -> str:
        return f"{API}/tuningJobs"

    def error_answer(self, status: int, message: str) -> dict[str, Any]:
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND"}
        return {"error": {"code": status, "message": message, "status": names.get(status, "")}}


class TestVertexOpenModelContract(TestVertexContract):
    """The same contract for an open-weight base model: the job goes up with
    a tuning mode, an output folder in the entry's bucket, and the user's own
    chat file (Vertex takes OpenAI chat JSONL for open models)."""

    model = "meta/llama3_1@llama-3.1-8b-instruct"

    def create_url(self) -> str:
        return f"{API_BETA}/tuningJobs"

    def stub_create_job(self, mocked) -> None:
        def answer(request):
            sent = json.loads(request.body)
            spec = sent["supervisedTuningSpec"]
            if (
                sent["baseModel"] != self.model
                or spec["tuningMode"] != "TUNING_MODE_PEFT_ADAPTER"
                or not sent["outputUri"].startswith(f"gs://{BUCKET}/team-a/ftproxy-tuning/")
                or "/gemini/" in spec["trainingDatasetUri"]
            ):
                return 400, {}, json.dumps(self.error_answer(400, f"unexpected body {sent}"))
            return 200, {}, json.dumps(tuning_job("JOB_STATE_PENDING", baseModel=self.model))

        mocked.add_callback(responses.POST, f"{API_BETA}/tuningJobs", callback=answer)
