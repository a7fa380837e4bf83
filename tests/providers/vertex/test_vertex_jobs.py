"""Vertex AI tuning jobs: the exact requests sent and the mapping back."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.errors import (
    ProviderAuthError,
    ProviderInputError,
    ProviderNotFound,
)
from ftproxy.providers.data import JobCreate

from .helpers import (
    API,
    JOB_NAME,
    JOB_URL,
    PROJECT,
    mock_token,
    provider,
    tuning_job,
)

TRAIN = "gs://tuning-data/team-a/ftproxy/a/gemini/train.jsonl"
VALID = "gs://tuning-data/team-a/ftproxy/b/gemini/valid.jsonl"


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        mock_token(mock)
        yield mock


def sent_json(rsps, index=-1):
    return json.loads(rsps.calls[index].request.body)


def new_job(**fields):
    fields.setdefault("model", "gemini-2.0-flash-001")
    fields.setdefault("training_file", TRAIN)
    return JobCreate(**fields)


def supervised(**hyperparameters):
    return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}


def create(rsps, **fields):
    rsps.add(responses.POST, f"{API}/tuningJobs", json=tuning_job("JOB_STATE_PENDING"))
    return provider().create_job(new_job(**fields))


# ---- create: the request ------------------------------------------------


def test_create_without_options_posts_only_model_and_training_uri(rsps):
    create(rsps)
    assert rsps.calls[-1].request.url == f"{API}/tuningJobs"
    assert sent_json(rsps) == {
        "baseModel": "gemini-2.0-flash-001",
        "supervisedTuningSpec": {"trainingDatasetUri": TRAIN},
    }


def test_create_with_validation_file_hyperparameters_suffix_and_metadata(rsps):
    create(
        rsps,
        validation_file=VALID,
        hyperparameters={"n_epochs": 4, "learning_rate_multiplier": 0.5, "batch_size": "auto"},
        suffix="support-bot",
        metadata={"team": "support", "cost-centre": "cc_42"},
    )
    assert sent_json(rsps) == {
        "baseModel": "gemini-2.0-flash-001",
        "supervisedTuningSpec": {
            "trainingDatasetUri": TRAIN,
            "validationDatasetUri": VALID,
            "hyperParameters": {"epochCount": 4, "learningRateMultiplier": 0.5},
        },
        "tunedModelDisplayName": "support-bot",
        "labels": {"team": "support", "cost-centre": "cc_42"},
    }


def test_create_takes_hyperparameters_from_method_supervised(rsps):
    create(rsps, method=supervised(n_epochs=2))
    assert sent_json(rsps)["supervisedTuningSpec"]["hyperParameters"] == {"epochCount": 2}


@pytest.mark.parametrize(
    ("size", "enum"),
    [(1, "ADAPTER_SIZE_ONE"), (4, "ADAPTER_SIZE_FOUR"), (32, "ADAPTER_SIZE_THIRTY_TWO")],
)
def test_create_maps_adapter_size_to_vertexs_enum(rsps, size, enum):
    create(rsps, method=supervised(adapter_size=size))
    assert sent_json(rsps)["supervisedTuningSpec"]["hyperParameters"] == {"adapterSize": enum}


def test_create_omits_auto_hyperparameters(rsps):
    create(rsps, method=supervised(n_epochs="auto", learning_rate_multiplier="auto"))
    assert "hyperParameters" not in sent_json(rsps)["supervisedTuningSpec"]


def test_create_accepts_international_lowercase_labels(rsps):
    create(rsps, metadata={"équipe": "données", "团队": ""})
    assert sent_json(rsps)["labels"] == {"équipe": "données", "团队": ""}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"seed": 42}, "seed"),
        ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]}, "integrations"),
        ({"method": {"type": "reinforcement"}}, "method.type"),
        ({"hyperparameters": {"batch_size": 8}}, "hyperparameters.batch_size"),
        (
            {
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"batch_size": 4}},
                }
            },
            "method.supervised.hyperparameters.batch_size",
        ),
        ({"hyperparameters": {"beta": 0.1}}, "hyperparameters.beta"),
        ({"hyperparameters": {"adapter_size": 3}}, "hyperparameters.adapter_size"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"n_epochs": True}}, "hyperparameters.n_epochs"),
        (
            {"hyperparameters": {"learning_rate_multiplier": -1}},
            "hyperparameters.learning_rate_multiplier",
        ),
        (
            {
                "hyperparameters": {"n_epochs": 3},
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"n_epochs": 5}},
                },
            },
            "method.supervised.hyperparameters.n_epochs",
        ),
        ({"metadata": {"Team": "x"}}, "metadata.Team"),
        ({"metadata": {"1team": "x"}}, "metadata.1team"),
        ({"metadata": {"team": "Support"}}, "metadata.team"),
        ({"metadata": {"team": "a b"}}, "metadata.team"),
        ({"metadata": {"k" * 64: "x"}}, "metadata." + "k" * 64),
        ({"metadata": {"team": "v" * 64}}, "metadata.team"),
        ({"metadata": {f"k{i}": "v" for i in range(65)}}, "metadata"),
        ({"model": ""}, "model"),
    ],
)
def test_create_refuses_what_vertex_cannot_honour_naming_the_field(fields, param):
    with responses.RequestsMock() as rsps:  # no request may be sent
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(new_job(**fields))
        assert not rsps.calls
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert param.split(".")[0] in caught.value.message or param == "metadata"


@pytest.mark.parametrize("training", ["file-abc123", "https://example.com/a.jsonl", "gs://"])
def test_create_requires_a_cloud_storage_training_file(training):
    with pytest.raises(ProviderInputError) as caught:
        provider().create_job(JobCreate(model="gemini-2.0-flash-001", training_file=training))
    assert caught.value.param == "training_file"


def test_create_requires_a_cloud_storage_validation_file():
    job = JobCreate(model="gemini-2.0-flash-001", training_file=TRAIN, validation_file="file-1")
    with pytest.raises(ProviderInputError) as caught:
        provider().create_job(job)
    assert caught.value.param == "validation_file"


# ---- the mapping back ---------------------------------------------------

STATES = [
    ("JOB_STATE_UNSPECIFIED", "queued", False),
    ("JOB_STATE_QUEUED", "queued", False),
    ("JOB_STATE_PENDING", "queued", False),
    ("JOB_STATE_RUNNING", "running", False),
    ("JOB_STATE_UPDATING", "running", False),
    ("JOB_STATE_PAUSED", "paused", False),
    ("JOB_STATE_CANCELLING", "cancelled", False),
    ("JOB_STATE_SUCCEEDED", "succeeded", True),
    ("JOB_STATE_PARTIALLY_SUCCEEDED", "succeeded", True),
    ("JOB_STATE_FAILED", "failed", True),
    ("JOB_STATE_EXPIRED", "failed", True),
    ("JOB_STATE_CANCELLED", "cancelled", True),
]


def test_retrieve_maps_every_required_openai_field(rsps):
    payload = tuning_job(
        "JOB_STATE_SUCCEEDED",
        endTime="2025-03-01T11:00:00.999999999Z",
        supervisedTuningSpec={
            "trainingDatasetUri": TRAIN,
            "validationDatasetUri": VALID,
            "hyperParameters": {"epochCount": "3", "learningRateMultiplier": 0.5},
        },
        tunedModel={
            "model": f"projects/{PROJECT}/locations/us-central1/models/77",
            "endpoint": f"projects/{PROJECT}/locations/us-central1/endpoints/88",
        },
        tuningDataStats={"supervisedTuningDataStats": {"totalBillableTokenCount": "1234567"}},
    )
    rsps.add(responses.GET, JOB_URL, json=payload)
    job = provider().retrieve_job(JOB_NAME)
    assert rsps.calls[-1].request.url == JOB_URL
    assert job.remote_id == JOB_NAME
    assert job.model == "gemini-2.0-flash-001"
    assert job.created_at == 1740823200  # 2025-03-01T10:00:00Z, fraction dropped
    assert job.finished_at == 1740826800
    assert job.fine_tuned_model == f"projects/{PROJECT}/locations/us-central1/endpoints/88"
    assert job.raw["tunedModel"]["model"].endswith("/models/77")
    assert job.trained_tokens == 1234567 * 3
    assert job.hyperparameters == {
        "n_epochs": 3,
        "learning_rate_multiplier": 0.5,
        "batch_size": "auto",
    }
    assert (job.training_file, job.validation_file) == (TRAIN, VALID)
    assert job.organization_id == PROJECT
    assert job.suffix == "support-bot"
    assert job.metadata == {"team": "support"}
    assert job.error is None
    assert job.raw == payload


def test_timestamps_accept_offsets_and_no_fraction(rsps):
    rsps.add(responses.GET, JOB_URL, json=tuning_job(createTime="2025-03-01T12:00:00+02:00"))
    assert provider().retrieve_job(JOB_NAME).created_at == 1740823200


def test_trained_tokens_without_epoch_count_is_the_billable_count(rsps):
    payload = tuning_job(
        "JOB_STATE_SUCCEEDED",
        supervisedTuningSpec={"trainingDatasetUri": TRAIN},
        tuningDataStats={"supervisedTuningDataStats": {"totalBillableTokenCount": "500"}},
    )
    rsps.add(responses.GET, JOB_URL, json=payload)
    job = provider().retrieve_job(JOB_NAME)
    assert job.trained_tokens == 500
    assert job.hyperparameters["n_epochs"] == "auto"


def test_trained_tokens_are_null_until_the_job_succeeds(rsps):
    stats = {"supervisedTuningDataStats": {"totalBillableTokenCount": "500"}}
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_RUNNING", tuningDataStats=stats))
    job = provider().retrieve_job(JOB_NAME)
    assert job.trained_tokens is None
    assert job.finished_at is None


def test_failed_job_error_carries_the_rpc_status_name_and_message(rsps):
    error = {"code": 3, "message": "Dataset line 4 is invalid."}
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_FAILED", error=error))
    job = provider().retrieve_job(JOB_NAME)
    assert job.error == {
        "code": "INVALID_ARGUMENT",
        "message": "Dataset line 4 is invalid.",
        "param": None,
    }


def test_unknown_rpc_code_is_passed_as_its_number(rsps):
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_FAILED", error={"code": 99}))
    assert provider().retrieve_job(JOB_NAME).error == {"code": "99", "message": "", "param": None}


def test_retrieve_of_a_malformed_job_name_is_not_found_without_a_request():
    with responses.RequestsMock() as rsps, pytest.raises(ProviderNotFound):
        provider().retrieve_job("projects/p/../../other")
    assert not rsps.calls


# ---- cancel, events, checkpoints, pause --------------------------------


def test_cancel_posts_empty_body_then_returns_the_job_as_it_now_is(rsps):
    rsps.add(responses.POST, f"{JOB_URL}:cancel", json={})
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_CANCELLING"))
    job = provider().cancel_job(JOB_NAME)
    assert rsps.calls[1].request.url == f"{JOB_URL}:cancel"
    assert json.loads(rsps.calls[1].request.body) == {}
    assert (job.status, job.terminal) == ("cancelled", False)


def checkpoints(rsps):
    cps = [
        {"checkpointId": "1", "epoch": "1", "step": "10", "endpoint": "projects/p/endpoints/1"},
        {"checkpointId": "2", "epoch": "2", "step": "20", "endpoint": "projects/p/endpoints/2"},
        {"checkpointId": "3", "epoch": "3", "step": "30", "endpoint": "projects/p/endpoints/3"},
    ]
    tuned = {"model": "m", "endpoint": "projects/p/endpoints/3", "checkpoints": cps}
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_SUCCEEDED", tunedModel=tuned))


def test_checkpoints_come_from_the_tuned_model_newest_first(rsps):
    checkpoints(rsps)
    page = provider().list_job_checkpoints(JOB_NAME, None, 10)
    assert [c.id for c in page.items] == ["ftckpt-3", "ftckpt-2", "ftckpt-1"]
    assert page.items[0].fine_tuned_model_checkpoint == "projects/p/endpoints/3"
    assert page.items[0].step_number == 30
    assert page.items[0].metrics == {"step": 30, "epoch": 3}
    assert page.has_more is False


def test_checkpoints_honour_after_and_limit(rsps):
    checkpoints(rsps)
    page = provider().list_job_checkpoints(JOB_NAME, "ftckpt-3", 1)
    assert [c.id for c in page.items] == ["ftckpt-2"]
    assert page.has_more is True


# ---- upstream errors (google.rpc.Status bodies) -------------------------


def rpc_error(code, status, message):
    return {"error": {"code": code, "message": message, "status": status}}


def test_invalid_argument_is_passed_on_with_its_message(rsps):
    body = rpc_error(400, "INVALID_ARGUMENT", "Base model gemini-x is not supported.")
    rsps.add(responses.POST, f"{API}/tuningJobs", json=body, status=400)
    with pytest.raises(ProviderInputError) as caught:
        provider().create_job(JobCreate(model="gemini-x", training_file=TRAIN))
    assert caught.value.status_code == 400
    assert caught.value.message == "Base model gemini-x is not supported."
    assert caught.value.code == "INVALID_ARGUMENT"


def test_permission_denied_is_the_gateways_credentials_problem(rsps):
    body = rpc_error(403, "PERMISSION_DENIED", "Permission 'aiplatform.tuningJobs.get' denied.")
    rsps.add(responses.GET, JOB_URL, json=body, status=403)
    with pytest.raises(ProviderAuthError) as caught:
        provider().retrieve_job(JOB_NAME)
    assert caught.value.status_code == 502
    assert "aiplatform.tuningJobs.get" in caught.value.message


# ---- dataset feedback ------------------------------------------------------


def test_no_dataset_notices_until_vertex_has_read_the_dataset(rsps):
    rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_PENDING"))
    assert provider().retrieve_job(JOB_NAME).notices == []


def test_dataset_notices_count_truncated_examples_even_without_their_indices(rsps):
    stats = {
        "supervisedTuningDataStats": {
            "tuningDatasetExampleCount": "1",
            "totalTruncatedExampleCount": "3",
        }
    }
    rsps.add(responses.GET, JOB_URL, json=tuning_job(tuningDataStats=stats))
    info, warning = provider().retrieve_job(JOB_NAME).notices
    assert info.message == "Vertex AI read the training dataset: 1 example."
    assert (warning.level, warning.data["count"]) == ("warn", 3)
    assert warning.message == "Vertex AI truncated or dropped 3 examples of the training dataset."
