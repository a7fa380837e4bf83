"""``/v1/models``: the fine-tuned models of the caller's succeeded jobs,
their lineage and shutdown date, and deletion through each provider (or a
400 where it has none). Upstreams are played by ``responses``."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.models import ApiKey, AuditEntry, FineTuningJob, JobEvent
from tests.conftest import MASTER_KEY
from tests.factories import ledger_job
from tests.providers.vertex import helpers as vertex

pytestmark = pytest.mark.django_db

OPENAI_MODEL = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
AZURE_BASE = "https://res.openai.azure.com"
VERTEX_ENDPOINT = f"projects/{vertex.PROJECT}/locations/{vertex.LOCATION}/endpoints/77"
VERTEX_MODEL = f"projects/{vertex.PROJECT}/locations/{vertex.LOCATION}/models/9"


@pytest.fixture
def entries(gateway_config, sandbox_entry):
    """Every provider kind for fine-tuning; the sandbox for files."""
    return gateway_config(
        {
            "finetune_settings": [
                sandbox_entry,
                {"custom_llm_provider": "openai", "api_key": "sk-up", "max_retries": 0},
                {
                    "custom_llm_provider": "azure",
                    "name": "azure_dated",
                    "api_base": AZURE_BASE,
                    "api_key": "az-key",
                    "api_version": "2024-10-21",
                    "max_retries": 0,
                },
                {
                    "custom_llm_provider": "azure",
                    "name": "azure_v1",
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
            "ftproxy_settings": {"model_shutdowns": {"gemini-2.0-flash": "2027-03-01"}},
        }
    )


def tuned(public_id: str, name: str, *, provider: str = "openai", kind: str = "", **fields):
    return ledger_job(
        public_id,
        "succeeded",
        provider=provider,
        provider_kind=kind or provider,
        fine_tuned_model=name,
        finished_at=1_700_000_600,
        **fields,
    )


def test_list_shows_the_callers_models_with_lineage_and_shutdown_date(entries, api_as):
    key, raw = ApiKey.create_key("alice")
    tuned("ftjob-a", OPENAI_MODEL, owner=key, trained_tokens=1000, cost_usd="0.003")
    tuned("ftjob-b", "ft:gpt-4o-mini:acme::other")  # the master key's
    ledger_job("ftjob-running", "running", owner=key)  # no model yet
    body = api_as(raw).get("/v1/models").json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model == {
        "id": OPENAI_MODEL,
        "object": "model",
        "created": 1_700_000_600,
        "owned_by": "openai",
        "custom_llm_provider": "openai",
        "fine_tuning_job": "ftjob-a",
        "base_model": "gpt-4o-mini-2024-07-18",
        "training_file": "file-train",
        "validation_file": None,
        "trained_tokens": 1000,
        "cost_usd": "0.003000",
        "shutdown_date": "2027-01-14",
    }
    master_ids = {m["id"] for m in api_as(MASTER_KEY).get("/models").json()["data"]}
    assert master_ids == {OPENAI_MODEL, "ft:gpt-4o-mini:acme::other"}


def test_shutdown_dates_follow_the_provider_and_the_config(entries, master):
    tuned("ftjob-az", "gpt-4o-mini-2024-07-18.ft-1", provider="azure_v1", kind="azure")
    tuned(
        "ftjob-vx",
        VERTEX_ENDPOINT,
        provider="vertex_ai",
        model="gemini-2.0-flash-001",
        provider_payload={"tunedModel": {"model": f"{VERTEX_MODEL}@1"}},
    )
    dates = {m["id"]: m["shutdown_date"] for m in master.get("/v1/models").json()["data"]}
    # Azure retires on its own schedule: no shipped date; the config sets Gemini's.
    assert dates == {"gpt-4o-mini-2024-07-18.ft-1": None, VERTEX_ENDPOINT: "2027-03-01"}


def test_a_configured_null_removes_a_shipped_shutdown_date(gateway_config, master):
    gateway_config(
        {
            "finetune_settings": [{"custom_llm_provider": "openai", "api_key": "sk-up"}],
            "ftproxy_settings": {"model_shutdowns": {"gpt-4o-mini": None}},
        }
    )
    tuned("ftjob-a", OPENAI_MODEL)
    (model,) = master.get("/v1/models").json()["data"]
    assert model["shutdown_date"] is None


def test_retrieve_and_delete_of_another_keys_model_are_404(entries, api_as, make_key):
    owner = ApiKey.create_key("owner")[0]
    tuned("ftjob-a", OPENAI_MODEL, owner=owner)
    other = api_as(make_key("other"))
    for response in (
        other.get(f"/v1/models/{OPENAI_MODEL}"),
        other.delete(f"/v1/models/{OPENAI_MODEL}"),
        other.get("/v1/models/ft:unknown:model"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "model_not_found"
        assert response.json()["error"]["param"] == "model"
    assert other.get("/v1/models").json()["data"] == []
    assert FineTuningJob.objects.get(public_id="ftjob-a").model_deleted_at is None


def test_retrieve_takes_a_name_with_slashes(entries, master):
    tuned("ftjob-vx", VERTEX_ENDPOINT, provider="vertex_ai")
    response = master.get(f"/v1/models/{VERTEX_ENDPOINT}")
    assert response.status_code == 200
    assert response.json()["fine_tuning_job"] == "ftjob-vx"


@responses.activate
def test_delete_on_openai_calls_its_delete_and_records_it(entries, master):
    tuned("ftjob-a", OPENAI_MODEL)
    url = f"https://api.openai.com/v1/models/{OPENAI_MODEL.replace(':', '%3A')}"
    responses.add(
        responses.DELETE, url, json={"id": OPENAI_MODEL, "object": "model", "deleted": True}
    )
    response = master.delete(f"/v1/models/{OPENAI_MODEL}")
    assert response.json() == {"id": OPENAI_MODEL, "object": "model", "deleted": True}
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk-up"
    job = FineTuningJob.objects.get(public_id="ftjob-a")
    assert job.model_deleted_at is not None
    event = JobEvent.objects.get(job=job, source="model_delete")
    assert OPENAI_MODEL in event.message
    audit = AuditEntry.objects.get(action="models.delete")
    assert (audit.object_id, audit.provider, audit.upstream_status) == (
        OPENAI_MODEL,
        "openai",
        None,
    )
    assert master.get(f"/v1/models/{OPENAI_MODEL}").status_code == 404
    assert master.get("/v1/models").json()["data"] == []
    assert master.delete(f"/v1/models/{OPENAI_MODEL}").status_code == 404
    assert len(responses.calls) == 1


@responses.activate
def test_a_model_the_provider_no_longer_has_is_recorded_deleted(entries, master):
    tuned("ftjob-a", OPENAI_MODEL)
    responses.add(
        responses.DELETE,
        f"https://api.openai.com/v1/models/{OPENAI_MODEL.replace(':', '%3A')}",
        status=404,
        json={"error": {"message": "The model does not exist", "type": "invalid_request_error"}},
    )
    assert master.delete(f"/v1/models/{OPENAI_MODEL}").json()["deleted"] is True
    event = JobEvent.objects.get(source="model_delete")
    assert "already gone" in event.message


@responses.activate
def test_an_upstream_failure_is_a_502_and_the_model_stays(entries, master):
    tuned("ftjob-a", OPENAI_MODEL)
    responses.add(
        responses.DELETE,
        f"https://api.openai.com/v1/models/{OPENAI_MODEL.replace(':', '%3A')}",
        status=500,
        json={"error": {"message": "boom"}},
    )
    response = master.delete(f"/v1/models/{OPENAI_MODEL}")
    assert response.status_code == 502
    assert FineTuningJob.objects.get(public_id="ftjob-a").model_deleted_at is None
    audit = AuditEntry.objects.get(action="models.delete")
    assert (audit.status_code, audit.upstream_status) == (502, 500)
    assert not JobEvent.objects.filter(source="model_delete").exists()


@responses.activate
def test_azure_v1_deletes_through_its_models_route(entries, master):
    name = "gpt-4o-mini-2024-07-18.ft-0123456789abcdef"
    tuned("ftjob-az", name, provider="azure_v1", kind="azure")
    responses.add(
        responses.DELETE,
        f"{AZURE_BASE}/openai/v1/models/{name}",
        json={"id": name, "object": "model", "deleted": True},
    )
    assert master.delete(f"/v1/models/{name}").json()["deleted"] is True
    assert responses.calls[0].request.headers["api-key"] == "az-key"


@responses.activate
def test_azure_dated_versions_and_unsupported_entries_are_a_400_before_any_call(entries, master):
    name = "gpt-4o-mini-2024-07-18.ft-dated"
    tuned("ftjob-az", name, provider="azure_dated", kind="azure")
    response = master.delete(f"/v1/models/{name}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_delete_unsupported")
    assert "azure_dated" in error["message"] and "console" in error["message"]
    assert len(responses.calls) == 0
    assert FineTuningJob.objects.get(public_id="ftjob-az").model_deleted_at is None


@responses.activate
def test_vertex_deletes_the_tuned_model_resource(entries, master):
    vertex.mock_token(responses.mock)
    tuned(
        "ftjob-vx",
        VERTEX_ENDPOINT,
        provider="vertex_ai",
        provider_payload={
            "tunedModel": {"model": f"{VERTEX_MODEL}@1", "endpoint": VERTEX_ENDPOINT}
        },
    )
    url = f"https://{vertex.LOCATION}-aiplatform.googleapis.com/v1/{VERTEX_MODEL}"
    responses.add(responses.DELETE, url, json={"name": f"{VERTEX_MODEL}/operations/1"})
    assert master.delete(f"/v1/models/{VERTEX_ENDPOINT}").json() == {
        "id": VERTEX_ENDPOINT,
        "object": "model",
        "deleted": True,
    }
    (call,) = [c for c in responses.calls if c.request.method == "DELETE"]
    assert call.request.url == url


@responses.activate
def test_vertex_refusing_a_deployed_model_is_passed_on(entries, master):
    vertex.mock_token(responses.mock)
    tuned(
        "ftjob-vx",
        VERTEX_ENDPOINT,
        provider="vertex_ai",
        provider_payload={"tunedModel": {"model": VERTEX_MODEL}},
    )
    responses.add(
        responses.DELETE,
        f"https://{vertex.LOCATION}-aiplatform.googleapis.com/v1/{VERTEX_MODEL}",
        status=400,
        body=json.dumps(
            {
                "error": {
                    "code": 400,
                    "message": "The Model is deployed to an Endpoint; undeploy it first.",
                    "status": "FAILED_PRECONDITION",
                }
            }
        ),
    )
    response = master.delete(f"/v1/models/{VERTEX_ENDPOINT}")
    assert response.status_code == 400
    assert "undeploy" in response.json()["error"]["message"]
    assert FineTuningJob.objects.get(public_id="ftjob-vx").model_deleted_at is None


def test_an_unconfigured_entry_hint_is_a_400(entries, master):
    response = master.get("/v1/models", {"custom_llm_provider": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "custom_llm_provider"


def test_the_entry_hint_narrows_the_list(entries, master):
    tuned("ftjob-a", OPENAI_MODEL)
    tuned("ftjob-az", "gpt-4o-mini-2024-07-18.ft-1", provider="azure_v1", kind="azure")
    listed = master.get("/v1/models", headers={"custom-llm-provider": "azure_v1"}).json()
    assert [m["id"] for m in listed["data"]] == ["gpt-4o-mini-2024-07-18.ft-1"]


@responses.activate
def test_the_entry_hint_finds_a_model_on_that_entry_only(entries, master):
    """A model named on another entry than the one it lives on is a 404, and
    its delete sends nothing."""
    tuned("ftjob-a", OPENAI_MODEL)
    on_openai = master.get(f"/v1/models/{OPENAI_MODEL}", {"custom_llm_provider": "openai"})
    assert on_openai.status_code == 200
    for method in ("get", "delete"):
        elsewhere = getattr(master, method)(
            f"/v1/models/{OPENAI_MODEL}", headers={"custom-llm-provider": "azure_v1"}
        )
        assert elsewhere.status_code == 404, elsewhere.content
        assert elsewhere.json()["error"]["param"] == "model"
    assert len(responses.calls) == 0
    assert FineTuningJob.objects.get(public_id="ftjob-a").model_deleted_at is None
