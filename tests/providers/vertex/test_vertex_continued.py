"""Vertex AI continued tuning (``preTunedModel``) and the entry's job
settings (service account, KMS key, last checkpoint only) in the job body."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.config import load_config
from ftproxy.errors import ConfigError, ProviderInputError
from ftproxy.providers.data import JobCreate

from .helpers import API, JOB_URL, PROJECT, entry, mock_token, provider, tuning_job

TRAIN = "gs://tuning-data/team-a/ftproxy/0123456789abcdef0123456789abcdef/gemini/more.jsonl"
BASE = f"projects/{PROJECT}/locations/us-central1"
MODEL = f"{BASE}/models/77@1"
ENDPOINT = f"{BASE}/endpoints/88"
#: An earlier job's payload as the ledger keeps it: checkpoint 2 is the last
#: one and is deployed on the tuned model's own endpoint.
EARLIER = tuning_job(
    "JOB_STATE_SUCCEEDED",
    tunedModel={
        "model": MODEL,
        "endpoint": ENDPOINT,
        "checkpoints": [
            {"checkpointId": "1", "epoch": "1", "step": "10", "endpoint": f"{BASE}/endpoints/81"},
            {"checkpointId": "2", "epoch": "2", "step": "20", "endpoint": ENDPOINT},
        ],
    },
)
KMS = "projects/p/locations/us-central1/keyRings/ring/cryptoKeys/key"
ACCOUNT = "tuner@proj-1.iam.gserviceaccount.com"


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        mock_token(mock)
        yield mock


def create(rsps, vertex=None, **fields):
    fields.setdefault("training_file", TRAIN)
    rsps.add(responses.POST, f"{API}/tuningJobs", json=tuning_job("JOB_STATE_PENDING"))
    remote = (vertex or provider()).create_job(JobCreate(**fields))
    return json.loads(rsps.calls[-1].request.body), remote


# ---- continued tuning -----------------------------------------------------


def test_the_fine_tuned_model_of_an_earlier_job_continues_from_its_tuned_model(rsps):
    body, _ = create(rsps, model=ENDPOINT, source_job=EARLIER)
    # The tuned model's endpoint serves checkpoint 2: continue from exactly that.
    assert body["preTunedModel"] == {"tunedModelName": MODEL, "checkpointId": "2"}
    assert "baseModel" not in body  # Vertex takes one source model or the other
    assert body["supervisedTuningSpec"] == {"trainingDatasetUri": TRAIN}


def test_a_checkpoint_named_by_its_fine_tuned_model_checkpoint_becomes_its_checkpoint_id(rsps):
    body, _ = create(rsps, model=f"{BASE}/endpoints/81", source_job=EARLIER)
    assert body["preTunedModel"] == {"tunedModelName": MODEL, "checkpointId": "1"}


def test_a_tuned_model_endpoint_without_checkpoints_uses_vertexs_default_checkpoint(rsps):
    earlier = tuning_job("JOB_STATE_SUCCEEDED", tunedModel={"model": MODEL, "endpoint": ENDPOINT})
    body, _ = create(rsps, model=ENDPOINT, source_job=earlier)
    assert body["preTunedModel"] == {"tunedModelName": MODEL}


def test_a_tuned_model_resource_is_sent_as_it_is(rsps):
    body, remote = create(rsps, model=f"{BASE}/models/77")
    assert body["preTunedModel"] == {"tunedModelName": f"{BASE}/models/77"}
    assert "baseModel" not in body
    # Vertex answers without a baseModel: the gateway keeps the model the user named.
    assert remote.model == "gemini-2.0-flash-001"


def test_a_continued_job_read_back_leaves_the_model_to_the_ledger(rsps):
    payload = tuning_job(preTunedModel={"tunedModelName": MODEL, "baseModel": "gemini-2.5-flash"})
    del payload["baseModel"]
    rsps.add(responses.GET, JOB_URL, json=payload)
    assert provider().retrieve_job(payload["name"]).model == ""


def test_a_dpo_job_can_continue_from_a_tuned_model_too(rsps):
    body, _ = create(
        rsps,
        model=ENDPOINT,
        source_job=EARLIER,
        training_file=TRAIN.replace("/gemini/", "/gemini-preference/"),
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    assert body["preTunedModel"]["tunedModelName"] == MODEL
    assert body["preferenceOptimizationSpec"]["hyperParameters"] == {"beta": 0.2}


@pytest.mark.parametrize(
    "source_job",
    [None, EARLIER | {"tunedModel": {"endpoint": ENDPOINT}}, tuning_job("JOB_STATE_SUCCEEDED")],
)
def test_an_endpoint_the_gateway_cannot_trace_to_a_tuned_model_is_refused(source_job):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(
                JobCreate(model=f"{BASE}/endpoints/99", training_file=TRAIN, source_job=source_job)
            )
        assert not rsps.calls
    assert (caught.value.status_code, caught.value.param) == (400, "model")
    assert "fine_tuned_model_checkpoint" in caught.value.message


def test_a_base_model_is_still_a_base_model(rsps):
    body, _ = create(rsps, model="gemini-2.0-flash-001")
    assert body["baseModel"] == "gemini-2.0-flash-001"
    assert "preTunedModel" not in body


# ---- the entry's job settings --------------------------------------------


def test_the_entrys_job_settings_are_sent_on_every_job(rsps):
    vertex = provider(
        service_account=ACCOUNT, encryption_kms_key=KMS, export_last_checkpoint_only=True
    )
    for method in (None, {"type": "dpo"}):
        training = TRAIN if method is None else TRAIN.replace("/gemini/", "/gemini-preference/")
        body, _ = create(
            rsps, vertex, model="gemini-2.0-flash-001", training_file=training, method=method
        )
        assert body["serviceAccount"] == ACCOUNT
        assert body["encryptionSpec"] == {"kmsKeyName": KMS}
        spec = body["supervisedTuningSpec" if method is None else "preferenceOptimizationSpec"]
        assert spec["exportLastCheckpointOnly"] is True


def test_an_entry_without_job_settings_sends_none(rsps):
    body, _ = create(rsps, model="gemini-2.0-flash-001")
    assert not {"serviceAccount", "encryptionSpec"} & body.keys()
    assert "exportLastCheckpointOnly" not in body["supervisedTuningSpec"]


def test_export_last_checkpoint_only_false_is_sent_as_false(rsps):
    body, _ = create(rsps, provider(export_last_checkpoint_only=False), model="gemini-x")
    assert body["supervisedTuningSpec"]["exportLastCheckpointOnly"] is False


def vertex_config(tmp_path, section="finetune_settings", **keys):
    settings = {**entry(), **keys}
    settings.pop("api")
    if section == "finetune_settings":
        settings.pop("gcs_bucket_name")
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({section: [settings]}), encoding="utf-8")
    return path


def test_the_config_loader_accepts_the_job_settings_on_vertex_ai_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPORT_LAST", "True")
    path = vertex_config(
        tmp_path,
        service_account=ACCOUNT,
        encryption_kms_key=KMS,
        export_last_checkpoint_only="os.environ/EXPORT_LAST",
    )
    [loaded] = load_config(path)["finetune_settings"]
    assert (loaded["service_account"], loaded["encryption_kms_key"]) == (ACCOUNT, KMS)
    assert loaded["export_last_checkpoint_only"] is True  # an environment string, read as a flag


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"service_account": "not-an-email"}, "'service_account'"),
        ({"encryption_kms_key": "my-key"}, "'encryption_kms_key'"),
        ({"export_last_checkpoint_only": "sometimes"}, "'export_last_checkpoint_only'"),
    ],
)
def test_the_config_loader_refuses_bad_job_settings_naming_the_key(tmp_path, keys, words):
    with pytest.raises(ConfigError) as caught:
        load_config(vertex_config(tmp_path, **keys))
    assert words in str(caught.value) and "finetune_settings[0]" in str(caught.value)


def test_job_settings_on_a_files_entry_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(vertex_config(tmp_path, "files_settings", service_account=ACCOUNT))
    assert "'service_account' applies to tuning jobs" in str(caught.value)


def test_job_settings_are_unknown_keys_for_other_providers(tmp_path):
    path = tmp_path / "config.yaml"
    openai_entry = {"custom_llm_provider": "openai", "api_key": "sk-x", "service_account": ACCOUNT}
    path.write_text(json.dumps({"finetune_settings": [openai_entry]}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "unknown key 'service_account' for openai" in str(caught.value)
