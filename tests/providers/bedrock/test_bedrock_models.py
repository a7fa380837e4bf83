"""Deleting a fine-tuned Bedrock model: ``DeleteCustomModel`` with the custom
model's ARN, through the provider and through ``DELETE /v1/models/{model}``
(recorded on the job); another key's model is a 404 and nothing is sent."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from ftproxy.errors import ProviderNotFound
from ftproxy.models import ApiKey, FineTuningJob
from tests.factories import ledger_job

from .helpers import entry, jsonl, new_job, provider
from .helpers import upload as put
from .moto_aws import backend, set_job

pytestmark = pytest.mark.django_db

RECORD = {
    "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
}


def custom_model_arns() -> set[str]:
    return {model.model_arn for model in backend().custom_models.values()}


def trained(bedrock) -> str:
    """A job created on moto (which makes its custom model at once), moved
    to Completed; its ``fine_tuned_model`` (the custom model's ARN)."""
    job = new_job(bedrock, put(bedrock, jsonl(RECORD)).remote_id)
    set_job(job.remote_id, "Completed")
    model = bedrock.retrieve_job(job.remote_id).fine_tuned_model
    assert model in custom_model_arns()
    return model


def test_the_provider_deletes_the_custom_model_by_its_arn(aws):
    bedrock = provider()
    assert bedrock.can_delete_models
    arn = trained(bedrock)
    assert arn in custom_model_arns()
    bedrock.delete_model(arn, {})
    assert arn not in custom_model_arns()
    with pytest.raises(ProviderNotFound):  # gone: Bedrock's ResourceNotFoundException
        bedrock.delete_model(arn, {})


@pytest.fixture
def bedrock_entry(aws, gateway_config):
    bedrock = {k: v for k, v in entry().items() if k != "api"}
    gateway_config({"finetune_settings": [bedrock], "files_settings": [dict(bedrock)]})
    return provider()


def test_delete_through_the_api_deletes_it_upstream_and_records_it(bedrock_entry, master):
    arn = trained(bedrock_entry)
    ledger_job("ftjob-b1", "succeeded", provider="bedrock", fine_tuned_model=arn)
    listed = master.get("/v1/models").json()["data"]
    assert [model["id"] for model in listed] == [arn]
    answer = master.delete(f"/v1/models/{quote(arn, safe=':/')}")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"id": arn, "object": "model", "deleted": True}
    assert arn not in custom_model_arns()
    assert FineTuningJob.objects.get(public_id="ftjob-b1").model_deleted_at is not None
    assert master.get("/v1/models").json()["data"] == []


def test_another_keys_bedrock_model_is_a_404_and_nothing_is_sent(bedrock_entry, api_as):
    arn = trained(bedrock_entry)
    owner, _ = ApiKey.create_key("owner")
    ledger_job("ftjob-b2", "succeeded", provider="bedrock", fine_tuned_model=arn, owner=owner)
    _, raw = ApiKey.create_key("other")
    answer = api_as(raw).delete(f"/v1/models/{quote(arn, safe=':/')}")
    assert answer.status_code == 404
    assert answer.json()["error"]["param"] == "model"
    assert arn in custom_model_arns()
