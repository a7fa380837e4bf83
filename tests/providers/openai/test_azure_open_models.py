"""Open-weight models on Azure AI Foundry (Ministral-3B, Qwen-32B): the
same /fine_tuning/jobs shape, on Global training only, supervised only; what
an entry cannot train is a 400 before anything is sent."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.errors import ProviderInputError
from ftproxy.providers.data import JobCreate
from ftproxy.providers.openai.open_models import AZURE_OPEN_MODELS, azure_open_model

from .upstreams import AZURE_DATED, AZURE_V1, expect, job_json

TIERED_DATED = "2025-04-01-preview"


def create(provider, **job):
    job.setdefault("training_file", "file-abc")
    job.setdefault("model", "Qwen-32B")
    return provider.create_job(JobCreate(**job))


def refused(provider, param: str, **job) -> ProviderInputError:
    with responses.RequestsMock():  # nothing registered: nothing may be sent
        with pytest.raises(ProviderInputError) as caught:
            create(provider, **job)
    assert caught.value.param == param
    return caught.value


@pytest.mark.parametrize("model", ["Qwen-32B", "ministral-3b"])
def test_an_open_model_goes_up_on_global_training(model):
    sent = {"model": model, "training_file": "file-abc", "trainingType": "GlobalStandard"}
    with responses.RequestsMock() as mocked:
        expect(mocked, AZURE_V1, "POST", "fine_tuning/jobs", body=job_json(), json_body=sent)
        create(AZURE_V1.provider(), model=model)


def test_a_dated_version_with_tiers_sends_it_too():
    up = AZURE_DATED
    query = {"api-version": TIERED_DATED}
    sent = {"model": "Qwen-32B", "training_file": "file-abc", "trainingType": "GlobalStandard"}
    with responses.RequestsMock() as mocked:
        mocked.add(
            "POST",
            up.url("fine_tuning/jobs"),
            json=job_json(),
            match=[
                responses.matchers.query_param_matcher(query),
                responses.matchers.json_params_matcher(sent),
            ],
        )
        create(up.provider(api_version=TIERED_DATED))


def test_an_entry_that_cannot_ask_for_global_training_cannot_train_it():
    error = refused(AZURE_DATED.provider(), "model")  # 2024-10-21 has no trainingType
    assert "Global training" in error.message and "v1" in error.message
    error = refused(AZURE_V1.provider(training_type="standard"), "model")
    assert "standard" in error.message


def test_another_tier_or_method_is_a_400_naming_it():
    v1 = AZURE_V1.provider()
    refused(v1, "trainingType", training_type="developerTier")
    refused(v1, "method.type", method={"type": "dpo"})
    # Asking for the tier it trains on is fine, whatever the entry's default.
    with responses.RequestsMock() as mocked:
        expect(mocked, AZURE_V1, "POST", "fine_tuning/jobs", body=job_json())
        create(AZURE_V1.provider(training_type="standard"), training_type="globalStandard")
        assert json.loads(mocked.calls[0].request.body)["trainingType"] == "GlobalStandard"


def test_openai_models_keep_the_entrys_tier():
    sent = {"model": "gpt-4.1-mini", "training_file": "file-abc", "trainingType": "Standard"}
    with responses.RequestsMock() as mocked:
        expect(mocked, AZURE_V1, "POST", "fine_tuning/jobs", body=job_json(), json_body=sent)
        create(AZURE_V1.provider(training_type="standard"), model="gpt-4.1-mini")


def test_the_catalogue_is_microsofts():
    assert sorted(m.name for m in AZURE_OPEN_MODELS.values()) == ["Ministral-3B", "Qwen-32B"]
    assert azure_open_model("Qwen-32B").example_tokens == 8192
    assert azure_open_model("gpt-4o") is None and azure_open_model(None) is None
