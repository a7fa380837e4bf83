"""A key trains from a fine-tuned model only when the ledger says one of its
own jobs produced it: another key's ``ft:…`` model (or checkpoint) is a 404
``model_not_found`` naming ``model``, as for any other key's object, and
nothing is recorded or sent. Names the ledger does not know go on to the
provider; the master key may name any."""

from __future__ import annotations

import pytest
import responses

from ftproxy.models import ApiKey, FineTuningJob
from tests.conftest import TRAINING
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

ALICES = "ft:gpt-4o-mini-2024-07-18:sandbox:mine:abcd1234"
CHECKPOINT = ALICES + ":ckpt-step-10"


@pytest.fixture
def keys(api_as):
    alice, alice_raw = ApiKey.create_key("alice")
    _, bob_raw = ApiKey.create_key("bob")
    return alice, api_as(alice_raw), api_as(bob_raw)


def produced(owner, model, provider="sandbox"):
    return ledger_job(
        f"ftjob-{owner.name}", "succeeded", provider=provider, owner=owner, fine_tuned_model=model
    )


def create(api, model):
    training = api.upload(TRAINING).json()["id"]
    return api.post_json("/v1/fine_tuning/jobs", {"model": model, "training_file": training})


@pytest.mark.parametrize("model", [ALICES, CHECKPOINT])
def test_another_keys_fine_tuned_model_is_a_404_and_nothing_is_recorded(sandbox, keys, model):
    alice, _, bob = keys
    produced(alice, ALICES)
    response = create(bob, model)
    assert response.status_code == 404, response.content
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_found")
    assert FineTuningJob.objects.count() == 1  # alice's only


@pytest.mark.parametrize("model", [ALICES, CHECKPOINT])
def test_a_key_trains_from_its_own_fine_tuned_model(sandbox, keys, model):
    alice, alice_api, _ = keys
    produced(alice, ALICES)
    assert create(alice_api, model).status_code == 200


def test_the_master_key_trains_from_any_keys_model(sandbox, keys, master):
    alice, _, _ = keys
    produced(alice, ALICES)
    assert create(master, ALICES).status_code == 200


@pytest.mark.parametrize("model", ["gpt-4o-mini", "ft:gpt-4o-mini:elsewhere::zz99"])
def test_models_the_ledger_does_not_know_go_to_the_provider(sandbox, keys, model):
    alice, _, bob = keys
    produced(alice, ALICES)
    assert create(bob, model).status_code == 200


def test_on_an_openai_entry_nothing_goes_upstream(gateway_config, keys):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": "https://up.test"}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    alice, _, bob = keys
    produced(alice, ALICES, provider="openai")
    uploaded = {
        "id": "file-up",
        "object": "file",
        "bytes": 1,
        "created_at": 1,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }
    with responses.RequestsMock() as upstream:  # the upload only: no job create
        upstream.post("https://up.test/files", json=uploaded)
        response = create(bob, ALICES)
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "model_not_found"


def test_an_azure_style_fine_tuned_model_of_another_key(sandbox, keys):
    alice, _, bob = keys
    produced(alice, "gpt-4o-mini-2024-07-18.ft-0123456789abcdef")
    assert create(bob, "gpt-4o-mini-2024-07-18.ft-0123456789abcdef").status_code == 404
