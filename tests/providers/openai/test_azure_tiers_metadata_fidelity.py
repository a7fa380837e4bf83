"""Azure training tiers (``trainingType``), metadata as the gateway's own,
and the job fields the gateway does not shape, passed through.

The provider tests check what goes upstream; the API tests drive the
gateway with ``responses`` behind it and check what the caller gets and
what the ledger keeps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
import yaml
from responses import matchers

from ftproxy.config import load_config
from ftproxy.errors import ConfigError, ProviderNotSupported
from ftproxy.models import FineTuningJob
from ftproxy.providers.data import JobCreate
from ftproxy.providers.openai import AzureProvider, OpenAIProvider
from tests.conftest import TRAINING
from tests.factories import ledger_file

RESOURCE = "https://tier-res.openai.azure.com"
DATED_JOBS = f"{RESOURCE}/openai/fine_tuning/jobs"
V1_JOBS = f"{RESOURCE}/openai/v1/fine_tuning/jobs"
OPENAI_JOBS = "https://api.openai.test/v1/fine_tuning/jobs"


def azure_entry(version: str = "v1", **extra: Any) -> dict[str, Any]:
    return {
        "custom_llm_provider": "azure",
        "api_key": "azure-key",
        "api_base": RESOURCE,
        "api_version": version,
        "max_retries": 0,
        **extra,
    }


def openai_entry() -> dict[str, Any]:
    return {
        "custom_llm_provider": "openai",
        "api_key": "sk-up",
        "api_base": "https://api.openai.test/v1",
        "max_retries": 0,
    }


def job_json(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "model": "gpt-4.1-mini",
        "created_at": 1_700_000_100,
        "status": "pending",
        "training_file": "file-1",
        "hyperparameters": {"n_epochs": 3},
        "result_files": [],
        "seed": 1,
        **overrides,
    }


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def sent_body(call) -> dict[str, Any]:
    return json.loads(call.request.body)


# --------------------------------------------------------------------------
# trainingType at the provider
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "url", "query"),
    [
        ("v1", V1_JOBS, {}),
        ("2025-04-01-preview", DATED_JOBS, {"api-version": "2025-04-01-preview"}),
    ],
)
@pytest.mark.parametrize(
    ("tier", "spelled"),
    [
        ("standard", "Standard"),
        ("globalStandard", "GlobalStandard"),
        ("developerTier", "developerTier"),
    ],
)
def test_the_job_tier_is_sent_in_the_versions_spelling(mocked, version, url, query, tier, spelled):
    rsp = mocked.add(
        "POST",
        url,
        json=job_json(trainingType=spelled),
        match=[matchers.query_param_matcher(query, strict_match=True)],
    )
    AzureProvider(azure_entry(version)).create_job(
        JobCreate(model="gpt-4.1-mini", training_file="file-1", training_type=tier)
    )
    assert sent_body(rsp.calls[0]) == {
        "model": "gpt-4.1-mini",
        "training_file": "file-1",
        "trainingType": spelled,
    }


def test_the_entrys_default_tier_is_sent_unless_the_job_names_one(mocked):
    rsp = mocked.add("POST", V1_JOBS, json=job_json())
    provider = AzureProvider(azure_entry(training_type="GLOBALSTANDARD"))
    provider.create_job(JobCreate(model="m", training_file="file-1"))
    provider.create_job(JobCreate(model="m", training_file="file-1", training_type="developerTier"))
    assert [sent_body(c)["trainingType"] for c in rsp.calls] == ["GlobalStandard", "developerTier"]


def test_a_dated_version_without_tiers_refuses_the_tier_and_sends_nothing(mocked):
    with pytest.raises(ProviderNotSupported) as info:
        AzureProvider(azure_entry("2024-10-21")).create_job(
            JobCreate(model="m", training_file="file-1", training_type="standard")
        )
    assert (info.value.status_code, info.value.param) == (400, "trainingType")
    assert "2024-10-21" in info.value.message and "api_version: v1" in info.value.message
    assert not mocked.calls


def test_openai_refuses_a_tier_rather_than_drop_it(mocked):
    with pytest.raises(ProviderNotSupported) as info:
        OpenAIProvider(openai_entry()).create_job(
            JobCreate(model="m", training_file="file-1", training_type="standard")
        )
    assert info.value.param == "trainingType"
    assert not mocked.calls


def config_error(tmp_path, entry: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"finetune_settings": [entry]}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (azure_entry(training_type="premium"), "must be one of standard, globalStandard"),
        (azure_entry("2024-10-21", training_type="standard"), "has no training tiers"),
        ({**openai_entry(), "training_type": "standard"}, "unknown key 'training_type'"),
    ],
    ids=["bad-value", "old-version", "openai"],
)
def test_an_entry_default_tier_is_checked_at_startup(tmp_path, entry, says):
    message = config_error(tmp_path, entry)
    assert "finetune_settings[0]" in message and says in message
    assert "premium" not in message  # values may come from the environment


# --------------------------------------------------------------------------
# trainingType through the gateway
# --------------------------------------------------------------------------


@pytest.fixture
def azure_v1(gateway_config, db):
    gateway_config({"finetune_settings": [azure_entry()]})
    ledger_file("file-1", provider="azure")


@pytest.mark.parametrize("field", ["trainingType", "training_type"])
def test_the_tier_is_matched_in_any_case_and_azures_answer_returned(
    mocked, master, azure_v1, field
):
    rsp = mocked.add("POST", V1_JOBS, json=job_json(trainingType="GlobalStandard"))
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4.1-mini", "training_file": "file-1", field: "GLOBALstandard"},
    )
    assert response.status_code == 200, response.content
    assert sent_body(rsp.calls[0])["trainingType"] == "GlobalStandard"
    assert response.json()["trainingType"] == "GlobalStandard"  # as Azure answered
    assert FineTuningJob.objects.get().training_type == "globalStandard"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"trainingType": "premium"}, "trainingType"),
        ({"training_type": 3}, "training_type"),
        ({"trainingType": "standard", "training_type": "developerTier"}, "trainingType"),
    ],
    ids=["unknown", "not-a-string", "disagree"],
)
def test_a_bad_tier_is_400_naming_the_field(mocked, master, azure_v1, fields, param):
    response = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "m", "training_file": "file-1", **fields}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert not FineTuningJob.objects.exists()


def test_a_tier_for_the_sandbox_is_400_naming_trainingtype(master, sandbox):
    file_id = master.upload(TRAINING).json()["id"]
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": file_id, "trainingType": "standard"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "trainingType" and "Azure" in error["message"]
    assert not FineTuningJob.objects.exists()


def test_a_tier_for_openai_is_400_and_nothing_is_sent(mocked, master, gateway_config):
    gateway_config({"finetune_settings": [openai_entry()]})
    ledger_file("file-1")
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": "file-1", "training_type": "developerTier"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "trainingType"
    assert not mocked.calls


# --------------------------------------------------------------------------
# metadata on a dated Azure version: kept, answered, listed, filtered, not sent
# --------------------------------------------------------------------------


def test_metadata_on_a_dated_version_is_kept_by_the_gateway_and_not_sent(
    mocked, master, gateway_config
):
    gateway_config({"finetune_settings": [azure_entry("2024-10-21")]})
    ledger_file("file-1", provider="azure")
    created = mocked.add(
        "POST",
        DATED_JOBS,
        status=201,
        json=job_json(organisation_id="org-az"),  # the dated API has no metadata field
    )
    mocked.add(
        "POST",
        DATED_JOBS,
        status=201,
        json=job_json(id="ftjob-2", created_at=1_700_000_200),
    )
    mocked.add("GET", f"{DATED_JOBS}/ftjob-1", json=job_json(status="running"))

    first = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4.1-mini", "training_file": "file-1", "metadata": {"team": "search"}},
    )
    second = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4.1-mini", "training_file": "file-1"}
    )

    assert first.status_code == 200, first.content
    assert first.json()["metadata"] == {"team": "search"}
    assert "metadata" not in sent_body(created.calls[0])
    assert second.json()["metadata"] is None
    # A refresh from Azure (which knows nothing of it) keeps it.
    retrieved = master.get("/v1/fine_tuning/jobs/ftjob-1").json()
    assert (retrieved["status"], retrieved["metadata"]) == ("running", {"team": "search"})
    listed = master.get("/v1/fine_tuning/jobs").json()["data"]
    assert [(j["id"], j["metadata"]) for j in listed] == [
        ("ftjob-2", None),
        ("ftjob-1", {"team": "search"}),
    ]
    tagged = master.get("/v1/fine_tuning/jobs", {"metadata[team]": "search"}).json()["data"]
    assert [j["id"] for j in tagged] == ["ftjob-1"]
    assert FineTuningJob.objects.get(public_id="ftjob-1").metadata == {"team": "search"}


def test_metadata_goes_upstream_on_v1(mocked):
    rsp = mocked.add("POST", V1_JOBS, json=job_json(metadata={"team": "a"}))
    AzureProvider(azure_entry()).create_job(
        JobCreate(model="m", training_file="file-1", metadata={"team": "a"})
    )
    assert sent_body(rsp.calls[0])["metadata"] == {"team": "a"}


# --------------------------------------------------------------------------
# Fields the gateway does not shape come back as the provider sent them
# --------------------------------------------------------------------------

UNSHAPED = {
    "user_provided_suffix": "my-model",
    "usage_metrics": {"trained_tokens": 1200, "trained_steps": 10},
    "shared_with_openai": False,
    "suffix": "my-model",
    "future_field": [1, {"nested": True}],
}


def test_the_provider_hands_on_what_it_does_not_shape(mocked):
    mocked.add(
        "GET",
        f"{RESOURCE}/openai/fine_tuning/jobs/ftjob-1",
        json=job_json(organisation_id="org-az", trainingType="Standard", **UNSHAPED),
    )
    remote = AzureProvider(azure_entry("2025-04-01-preview")).retrieve_job("ftjob-1")
    assert remote.upstream_fields == {**UNSHAPED, "trainingType": "Standard"}
    assert remote.organization_id == "org-az"  # normalised, not passed on as well


@pytest.mark.parametrize("kind", ["openai", "azure"])
def test_create_retrieve_and_list_pass_unshaped_fields_on(mocked, master, gateway_config, kind):
    entry = openai_entry() if kind == "openai" else azure_entry()
    jobs_url = OPENAI_JOBS if kind == "openai" else V1_JOBS
    gateway_config({"finetune_settings": [entry]})
    ledger_file("file-1", provider=kind)
    created = {**UNSHAPED, "estimated_finish": None}
    mocked.add("POST", jobs_url, json=job_json(status="queued", **created))
    later = {
        **UNSHAPED,
        "usage_metrics": {"trained_tokens": 9000},
        "estimated_finish": 1_700_009_000,
    }
    mocked.add(
        "GET",
        f"{jobs_url}/ftjob-1",
        # The provider's own words for fields the gateway shapes do not win.
        json=job_json(status="running", object="something.else", **later),
    )

    answer = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "file-1"})
    assert answer.status_code == 200, answer.content
    for name, value in UNSHAPED.items():
        assert answer.json()[name] == value, name

    retrieved = master.get("/v1/fine_tuning/jobs/ftjob-1").json()
    assert retrieved["usage_metrics"] == {"trained_tokens": 9000}
    assert retrieved["estimated_finish"] == 1_700_009_000
    assert retrieved["future_field"] == [1, {"nested": True}]
    assert (retrieved["object"], retrieved["status"]) == ("fine_tuning.job", "running")

    (listed,) = master.get("/v1/fine_tuning/jobs").json()["data"]
    assert listed["usage_metrics"] == {"trained_tokens": 9000}
    assert listed["user_provided_suffix"] == "my-model"
    assert listed["shared_with_openai"] is False


def test_an_adopted_job_keeps_the_metadata_and_fields_its_provider_reports(
    mocked, master, gateway_config
):
    gateway_config({"finetune_settings": [openai_entry()]})
    mocked.add(
        "GET",
        f"{OPENAI_JOBS}/ftjob-elsewhere",
        json=job_json(id="ftjob-elsewhere", metadata={"made": "elsewhere"}, **UNSHAPED),
    )
    response = master.get("/v1/fine_tuning/jobs/ftjob-elsewhere", {"custom_llm_provider": "openai"})
    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {"made": "elsewhere"}
    assert response.json()["usage_metrics"] == UNSHAPED["usage_metrics"]
    tagged = master.get("/v1/fine_tuning/jobs", {"metadata[made]": "elsewhere"}).json()["data"]
    assert [j["id"] for j in tagged] == ["ftjob-elsewhere"]
