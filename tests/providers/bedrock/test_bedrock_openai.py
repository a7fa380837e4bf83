"""Bedrock's OpenAI-compatible endpoint (``bedrock_openai`` entries): the
contract with ``responses`` at the HTTP boundary, and what differs from
OpenAI (the endpoint, the bearer Bedrock API key, the refused fields)."""

from __future__ import annotations

import io
import json

import pytest
import responses

from ftproxy.errors import ProviderNotSupported
from ftproxy.providers.bedrock import BedrockOpenAIProvider
from ftproxy.providers.data import FileUpload, JobCreate
from tests.providers.openai.test_openai_contract import JOB, OpenAIShapedContract
from tests.providers.openai.upstreams import Upstream, job_json

API_KEY = "bedrock-api-key-ABSKQmVkcm9ja0FQSUtleS0x"
BASE = "https://bedrock-mantle.us-west-2.api.aws/v1"
BEDROCK_OPENAI = Upstream(
    id="bedrock_openai",
    cls=BedrockOpenAIProvider,
    entry={
        "custom_llm_provider": "bedrock_openai",
        "name": "bedrock_openai",
        "api_key": API_KEY,
        "aws_region_name": "us-west-2",
        "max_retries": 2,
    },
    base=BASE,
    query={},
    headers={"Authorization": f"Bearer {API_KEY}"},
    absent=("api-key", "OpenAI-Organization"),
    full_api=False,
)


class TestBedrockOpenAIContract(OpenAIShapedContract):
    upstream = BEDROCK_OPENAI
    secret = API_KEY
    model = "openai.gpt-oss-20b"


def test_the_region_names_the_endpoint_and_the_key_is_the_bearer_token():
    bedrock = BEDROCK_OPENAI.provider()
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{BASE}/fine_tuning/jobs/{JOB}", json=job_json(id=JOB))
        bedrock.retrieve_job(JOB)
        sent = rsps.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "OpenAI-Organization" not in sent.headers


def test_a_reinforcement_job_with_a_lambda_grader_is_forwarded_as_is():
    method = {
        "type": "reinforcement",
        "reinforcement": {
            "grader": {
                "type": "lambda",
                "lambda_arn": "arn:aws:lambda:us-west-2:123456789012:function:grade",
            },
            "hyperparameters": {"n_epochs": 1},
        },
    }
    bedrock = BEDROCK_OPENAI.provider()
    with responses.RequestsMock() as rsps:
        rsps.add("POST", f"{BASE}/fine_tuning/jobs", json=job_json(id=JOB))
        bedrock.create_job(
            JobCreate("openai.gpt-oss-20b", "file-abc", method=method, gateway_id="ftjob-g1")
        )
        body = json.loads(rsps.calls[0].request.body)
    assert body["method"] == method
    assert body["metadata"] == {"ftproxy_job_id": "ftjob-g1"}


def test_a_suffix_is_a_400_naming_it_before_any_call():
    bedrock = BEDROCK_OPENAI.provider()
    with responses.RequestsMock():  # any call would fail the test
        with pytest.raises(ProviderNotSupported) as caught:
            bedrock.check_job(JobCreate("openai.gpt-oss-20b", "file-abc", suffix="bot"))
    assert (caught.value.status_code, caught.value.param) == (400, "suffix")


def test_files_are_sent_whole_to_the_endpoint():
    bedrock = BEDROCK_OPENAI.provider()
    assert not bedrock.forwards_uploads
    answer = {"id": "file-up", "object": "file", "bytes": 3, "created_at": 1,
              "filename": "t.jsonl", "purpose": "fine-tune"}  # fmt: skip
    with responses.RequestsMock() as rsps:
        rsps.add("POST", f"{BASE}/files", json=answer)
        created = bedrock.upload_file(FileUpload("t.jsonl", "fine-tune", io.BytesIO(b"{}\n"), 3))
    assert created.remote_id == "file-up"


def test_an_entry_needs_a_region_or_an_api_base():
    with pytest.raises(ValueError, match="aws_region_name"):
        BedrockOpenAIProvider.check_entry({"api_key": "k"})
    BedrockOpenAIProvider.check_entry({"api_key": "k", "api_base": "https://mantle.test/v1"})


def test_openais_model_deletion_and_shutdown_dates_are_not_carried_over():
    bedrock = BEDROCK_OPENAI.provider()
    assert bedrock.model_shutdowns == {} and not bedrock.can_delete_models
    with responses.RequestsMock(), pytest.raises(ProviderNotSupported) as caught:
        bedrock.delete_model("openai.gpt-oss-20b:ft:1", {})
    assert caught.value.status_code == 400
