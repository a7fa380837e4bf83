"""The provider contract, run against moto's server as Bedrock and S3.

botocore speaks HTTP through urllib3, not ``requests``, so the HTTP boundary
here is real: S3 at moto's server (``AWS_ENDPOINT_URL``) and Bedrock at a
front (``AWS_ENDPOINT_URL_BEDROCK``, botocore's per-service variable) that
forwards to moto except where a case registers another answer. The front
takes the contract's ``mocked.add(...)`` calls as they are written; the
``stub_*`` hooks move moto's job instead of registering canned bodies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from ftproxy.providers.base import Provider
from ftproxy.providers.bedrock import BedrockProvider
from tests.providers.contract import ProviderContract, chat_jsonl

from .helpers import NOVA, SECRET, entry, new_job, upload
from .moto_aws import Front, set_job, stages

#: The read timeout of the contract's entry, and how long a stalled answer waits.
TIMEOUT = 4.0
ERROR_CODES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


class TestBedrockContract(ProviderContract):
    model = NOVA
    secret = SECRET
    status_cases = [
        ("InProgress", "running", False),  # stub_job: training under way
        ("Completed", "succeeded", True),
        ("Failed", "failed", True),
        ("Stopping", "cancelled", False),
        ("Stopped", "cancelled", True),
    ]

    @pytest.fixture
    def provider(self, request, aws, monkeypatch) -> Provider:
        front = Front(aws, read_delay=TIMEOUT + 1.5)
        request.addfinalizer(front.stop)
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", front.url)
        request.instance.front = front
        bedrock = self.make_provider(None)
        # A job that exists in moto, for the cases that read one without creating it.
        training = upload(bedrock, chat_jsonl(), gateway_id="file-contract")
        request.instance.job_id = new_job(
            bedrock, training.remote_id, gateway_id="ftjob-contract0000000000000000"
        ).remote_id
        return bedrock

    @pytest.fixture
    def mocked(self, provider):
        return self.front

    def make_provider(self, tmp_path) -> Provider:
        return BedrockProvider(entry(max_retries=1, timeout=TIMEOUT))

    # ---- the upstream's answers ----------------------------------------------------
    def stub_upload(self, mocked, data: bytes) -> None:
        pass  # moto's S3 stores it

    def stub_retrieve_file(self, mocked, data: bytes) -> None:
        pass  # the ledger is authoritative: retrieve_file answers None

    def stub_content(self, mocked, data: bytes) -> None:
        pass

    def stub_delete(self, mocked) -> None:
        pass

    def training_file(self, provider: Provider) -> str:
        return upload(provider, chat_jsonl(), gateway_id=None).remote_id

    def stub_create_job(self, mocked) -> None:
        pass  # moto creates it

    def stub_job(self, mocked, raw_status: str) -> None:
        fields: dict[str, Any] = {}
        if raw_status == "InProgress":
            fields["statusDetails"] = stages("Completed", "Completed", "InProgress")
        set_job(self.job_id, raw_status, **fields)
        self.front.passthrough("GET", self.job_url())

    def stub_cancel(self, mocked) -> None:
        pass  # moto stops it

    def stub_events(self, mocked) -> None:
        pass  # derived from the job's statusDetails

    def job_url(self) -> str:
        return f"{self.front.url}/model-customization-jobs/{quote(self.job_id, safe='')}"

    def create_url(self) -> str:
        return f"{self.front.url}/model-customization-jobs"

    def error_answer(self, status: int, message: str) -> dict[str, Any]:
        # Bedrock's restJson error: the code (botocore also reads ``__type``) and message.
        return {"__type": ERROR_CODES.get(status, "ValidationException"), "message": message}

    def fail_retrieval(self, mocked, status: int, message: str = "upstream says no", **kw: Any):
        if mocked is not self.front:  # a case's own fresh mock: earlier answers are gone
            self.front.forget("GET", self.job_url())
        return self.front.add(
            "GET", self.job_url(), json=self.error_answer(status, message), status=status, **kw
        )
