"""The OpenAI SDK retries every 5xx by itself. A create that may have
reached the provider must not be repeated: such answers say
``x-should-retry: false``, and an ``Idempotency-Key`` replays them."""

from __future__ import annotations

import io

import openai
import pytest
import requests
import responses

from ftproxy.models import FineTuningJob
from tests.conftest import MASTER_KEY, TRAINING
from tests.factories import ledger_job

BASE = "https://api.openai.test/v1"
JOBS = f"{BASE}/fine_tuning/jobs"


@pytest.fixture
def openai_only(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-upstream", "api_base": BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})


def timeout(request):
    raise requests.exceptions.ReadTimeout("read timed out")


def refused(request):
    raise requests.exceptions.ConnectionError("connection refused")


@pytest.mark.django_db(transaction=True)
def test_the_sdk_does_not_repeat_a_create_that_timed_out_upstream(openai_only, live_server):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as upstream:
        upstream.add_callback(responses.POST, JOBS, callback=timeout)
        upstream.add_callback(responses.POST, f"{BASE}/files", callback=timeout)
        with openai.OpenAI(api_key=MASTER_KEY, base_url=f"{live_server.url}/v1") as sdk:
            with pytest.raises(openai.InternalServerError) as caught:
                sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-x")
            assert caught.value.status_code == 504
            with pytest.raises(openai.InternalServerError):
                sdk.files.create(file=("t.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
        posts = [call.request.url for call in upstream.calls]
    assert posts == [JOBS, f"{BASE}/files"]  # once each, despite the SDK's 2 retries


@pytest.mark.django_db
def test_a_provider_never_reached_may_be_retried(openai_only, master):
    with responses.RequestsMock() as upstream:
        upstream.add_callback(responses.POST, JOBS, callback=refused)
        response = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "f"})
    assert response.status_code == 503
    assert "x-should-retry" not in response


@pytest.mark.django_db
def test_reads_keep_the_sdks_retries(openai_only, master):
    ledger_job("ftjob-1")
    with responses.RequestsMock() as upstream:
        upstream.add_callback(responses.GET, f"{JOBS}/ftjob-1", callback=timeout)
        response = master.get("/v1/fine_tuning/jobs/ftjob-1")
    assert response.status_code == 504
    assert "x-should-retry" not in response


@pytest.mark.django_db
def test_an_idempotency_key_replays_a_create_whose_outcome_is_unknown(openai_only, master):
    headers = {"Idempotency-Key": "unsure"}
    body = {"model": "m", "training_file": "f"}
    with responses.RequestsMock() as upstream:
        upstream.add_callback(responses.POST, JOBS, callback=timeout)
        first = master.post_json("/v1/fine_tuning/jobs", body, headers=headers)
        again = master.post_json("/v1/fine_tuning/jobs", body, headers=headers)
        assert len(upstream.calls) == 1
    assert first.status_code == again.status_code == 504
    assert first["x-should-retry"] == again["x-should-retry"] == "false"
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["error"]["code"] == "outcome_unknown"


@pytest.mark.django_db
def test_an_idempotency_key_may_be_reused_after_a_create_that_surely_failed(openai_only, master):
    headers = {"Idempotency-Key": "refused"}
    body = {"model": "m", "training_file": "f"}
    with responses.RequestsMock() as upstream:
        upstream.add_callback(responses.POST, JOBS, callback=refused)
        assert master.post_json("/v1/fine_tuning/jobs", body, headers=headers).status_code == 503
        upstream.replace(responses.POST, JOBS, status=400, json={"error": {"message": "bad"}})
        assert master.post_json("/v1/fine_tuning/jobs", body, headers=headers).status_code == 400
        assert len(upstream.calls) == 2


@pytest.mark.django_db
def test_a_connect_timeout_never_reached_the_provider_so_it_may_be_retried(openai_only, master):
    def connect_timeout(request):
        raise requests.exceptions.ConnectTimeout("connect timed out")

    headers = {"Idempotency-Key": "connect"}
    body = {"model": "m", "training_file": "f"}
    with responses.RequestsMock() as upstream:
        upstream.add_callback(responses.POST, JOBS, callback=connect_timeout)
        first = master.post_json("/v1/fine_tuning/jobs", body, headers=headers)
        again = master.post_json("/v1/fine_tuning/jobs", body, headers=headers)
        assert len(upstream.calls) == 2  # the key was not used up
    assert first.status_code == again.status_code == 504
    assert "x-should-retry" not in first
    assert "may have created" not in FineTuningJob.objects.first().ledger_error
