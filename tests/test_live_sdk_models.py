"""The real ``openai`` SDK's ``models.list/retrieve/delete`` against the
running gateway, on every provider kind: the sandbox trains the model
through the gateway; OpenAI, Azure v1 and Vertex AI are played by
``responses`` (the SDK speaks httpx to the live server for real)."""

from __future__ import annotations

import io

import openai
import pytest
import responses
from openai.types import Model, ModelDeleted

from ftproxy.models import ApiKey, FineTuningJob
from tests.conftest import MASTER_KEY, TRAINING
from tests.factories import ledger_job
from tests.providers.vertex import helpers as vertex

pytestmark = pytest.mark.django_db(transaction=True)

OPENAI_MODEL = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
AZURE_MODEL = "gpt-4.1-mini-2025-04-14.ft-0123abcd"
AZURE_BASE = "https://res.openai.azure.com"
VERTEX_ENDPOINT = f"projects/{vertex.PROJECT}/locations/{vertex.LOCATION}/endpoints/77"
VERTEX_MODEL = f"projects/{vertex.PROJECT}/locations/{vertex.LOCATION}/models/9"


@pytest.fixture
def sdk_as(live_server, gateway_config, sandbox_entry):
    gateway_config(
        {
            "finetune_settings": [
                {**sandbox_entry, "run_seconds": 0},
                {"custom_llm_provider": "openai", "api_key": "sk-up", "max_retries": 0},
                {
                    "custom_llm_provider": "azure",
                    "api_base": AZURE_BASE,
                    "api_key": "az-key",
                    "api_version": "v1",
                    "max_retries": 0,
                },
                {
                    key: value
                    for key, value in vertex.entry().items()
                    if key not in ("api", "gcs_bucket_name")
                },
            ],
            "files_settings": [sandbox_entry],
            "ftproxy_settings": {"model_shutdowns": {"gpt-4o-mini": "2026-12-31"}},
        }
    )
    clients: list[openai.OpenAI] = []

    def connect(key: str) -> openai.OpenAI:
        client = openai.OpenAI(api_key=key, base_url=f"{live_server.url}/v1", max_retries=0)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def test_the_sdk_lists_retrieves_and_deletes_models_on_every_provider(sdk_as):
    key, raw = ApiKey.create_key("alice")
    alice, sdk = sdk_as(raw), sdk_as(MASTER_KEY)
    uploaded = alice.files.create(file=("t.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    job = alice.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=uploaded.id,
        extra_body={"custom_llm_provider": "sandbox"},
    )
    sandbox_model = alice.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert sandbox_model
    for public_id, name, provider, base, payload in (
        ("ftjob-oa", OPENAI_MODEL, "openai", "gpt-4o-mini-2024-07-18", {}),
        ("ftjob-az", AZURE_MODEL, "azure", "gpt-4.1-mini-2025-04-14", {}),
        (
            "ftjob-vx",
            VERTEX_ENDPOINT,
            "vertex_ai",
            "gemini-2.0-flash-001",
            {"tunedModel": {"model": VERTEX_MODEL}},
        ),
    ):
        ledger_job(
            public_id,
            "succeeded",
            provider=provider,
            model=base,
            fine_tuned_model=name,
            provider_payload=payload,
            finished_at=1_700_000_100,
        )

    listed = {model.id: model for model in sdk.models.list()}
    assert set(listed) == {sandbox_model, OPENAI_MODEL, AZURE_MODEL, VERTEX_ENDPOINT}
    mine = listed[sandbox_model]
    assert isinstance(mine, Model) and mine.object == "model"
    assert (mine.fine_tuning_job, mine.custom_llm_provider) == (job.id, "sandbox")
    assert (mine.base_model, mine.training_file) == ("gpt-4o-mini", uploaded.id)
    assert mine.shutdown_date == "2026-12-31"  # from the config
    assert listed[OPENAI_MODEL].shutdown_date == "2026-12-31"  # the config beats the table
    assert listed[AZURE_MODEL].shutdown_date is None  # Azure: no shipped dates
    assert [m.id for m in alice.models.list()] == [sandbox_model]

    retrieved = sdk.models.retrieve(VERTEX_ENDPOINT)
    assert retrieved.fine_tuning_job == "ftjob-vx"
    assert alice.models.retrieve(sandbox_model).created == mine.created
    with pytest.raises(openai.NotFoundError):
        alice.models.retrieve(OPENAI_MODEL)
    with pytest.raises(openai.NotFoundError):
        alice.models.delete(OPENAI_MODEL)

    with responses.RequestsMock() as upstream:
        vertex.mock_token(upstream)
        upstream.add(
            responses.DELETE,
            f"https://api.openai.com/v1/models/{OPENAI_MODEL.replace(':', '%3A')}",
            json={"id": OPENAI_MODEL, "object": "model", "deleted": True},
        )
        upstream.add(
            responses.DELETE,
            f"{AZURE_BASE}/openai/v1/models/{AZURE_MODEL}",
            json={"id": AZURE_MODEL, "object": "model", "deleted": True},
        )
        upstream.add(
            responses.DELETE,
            f"https://{vertex.LOCATION}-aiplatform.googleapis.com/v1/{VERTEX_MODEL}",
            json={"name": f"{VERTEX_MODEL}/operations/5"},
        )
        for name in (OPENAI_MODEL, AZURE_MODEL, VERTEX_ENDPOINT):
            deleted = sdk.models.delete(name)
            assert isinstance(deleted, ModelDeleted)
            assert (deleted.id, deleted.deleted) == (name, True)
    deleted = alice.models.delete(sandbox_model)  # the sandbox's own delete
    assert deleted.deleted is True
    assert list(sdk.models.list()) == []
    assert FineTuningJob.objects.filter(model_deleted_at__isnull=False).count() == 4
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve(sandbox_model)
    assert key.pk  # the key still exists: deleting models touches no key
