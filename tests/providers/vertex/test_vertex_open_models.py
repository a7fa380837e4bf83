"""Open-weight base models (Llama, Gemma, Qwen) on Vertex AI's tuningJobs:
the mode (LoRA or full), the output folder, the open-model hyperparameters,
and the 400s that come before anything is sent."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.errors import ProviderInputError
from ftproxy.providers.data import JobCreate
from ftproxy.providers.vertex import VertexProvider
from ftproxy.providers.vertex.job_body import tuning_job_body
from ftproxy.providers.vertex.open_models import OPEN_MODEL_REGIONS, OPEN_MODELS

from .helpers import API_BETA, BUCKET, entry, mock_token, provider, tuning_job

LLAMA = "meta/llama3_1@llama-3.1-8b-instruct"  # LoRA and full
QWEN_4B = "qwen/qwen3@qwen3-4b"  # full only
SCOUT = "meta/llama4@llama-4-scout-17b-16e-instruct"  # LoRA only
FOLDER = f"gs://{BUCKET}/team-a/ftproxy/{'0' * 32}"
CONVERTED = f"{FOLDER}/gemini/train.jsonl"
PREFERENCE = f"{FOLDER}/gemini-preference/train.jsonl"
CONTEXT = {"location": "us-central1", "output_base": f"gs://{BUCKET}/team-a"}


def body(model: str = LLAMA, options: dict | None = None, context: dict | None = None, **job):
    job.setdefault("training_file", CONVERTED)
    create = JobCreate(model=model, **job)
    return tuning_job_body(create, options, **(CONTEXT if context is None else context))


def refused(param: str, *args, **kwargs) -> ProviderInputError:
    with pytest.raises(ProviderInputError) as caught:
        body(*args, **kwargs)
    assert caught.value.param == param
    return caught.value


def test_an_open_model_trains_with_lora_by_default_on_the_users_own_file():
    sent = body(gateway_id="ftjob-abc", suffix="bot")
    assert sent["baseModel"] == LLAMA
    spec = sent["supervisedTuningSpec"]
    assert spec["tuningMode"] == "TUNING_MODE_PEFT_ADAPTER"
    # Vertex takes OpenAI chat JSONL for open models: the upload, not the Gemini copy.
    assert spec["trainingDatasetUri"] == f"{FOLDER}/train.jsonl"
    assert sent["outputUri"] == f"gs://{BUCKET}/team-a/ftproxy-tuning/ftjob-abc"
    assert sent["tunedModelDisplayName"] == "bot"


def test_a_model_tuned_in_full_only_is_tuned_in_full():
    assert body(QWEN_4B)["supervisedTuningSpec"]["tuningMode"] == "TUNING_MODE_FULL"


def test_tuning_mode_picks_the_mode_and_a_mode_the_model_lacks_is_a_400():
    sent = body(hyperparameters={"tuning_mode": "full"})
    assert sent["supervisedTuningSpec"]["tuningMode"] == "TUNING_MODE_FULL"
    error = refused("hyperparameters.tuning_mode", QWEN_4B, hyperparameters={"tuning_mode": "lora"})
    assert "full only" in error.message
    refused("hyperparameters.tuning_mode", SCOUT, hyperparameters={"tuning_mode": "full"})
    refused("hyperparameters.tuning_mode", hyperparameters={"tuning_mode": "qlora"})


def test_open_model_hyperparameters_are_vertexs_open_model_fields():
    sent = body(
        hyperparameters={"n_epochs": 2, "batch_size": 8, "learning_rate": 2e-5},
        method={"type": "supervised", "supervised": {"hyperparameters": {"adapter_size": 16}}},
        validation_file=CONVERTED.replace("train", "valid"),
    )
    spec = sent["supervisedTuningSpec"]
    assert spec["hyperParameters"] == {
        "epochCount": 2,
        "batchSize": 8,
        "learningRate": 2e-5,
        "adapterSize": "ADAPTER_SIZE_SIXTEEN",
    }
    assert spec["validationDatasetUri"] == f"{FOLDER}/valid.jsonl"


def test_what_an_open_model_cannot_take_is_a_400_naming_it():
    error = refused(
        "hyperparameters.learning_rate_multiplier",
        hyperparameters={"learning_rate_multiplier": 2},
    )
    assert "learning_rate" in error.message
    refused("hyperparameters.beta", hyperparameters={"beta": 0.1})
    refused("hyperparameters.batch_size", hyperparameters={"batch_size": 0})
    refused("hyperparameters.learning_rate", hyperparameters={"learning_rate": -1})
    refused("hyperparameters.adapter_size", hyperparameters={"adapter_size": 3})
    # The adapter is LoRA's: a full-tuning job has none.
    refused("hyperparameters.adapter_size", QWEN_4B, hyperparameters={"adapter_size": 8})
    refused("method.type", method={"type": "dpo"}, training_file=PREFERENCE)
    refused("seed", seed=7)
    # A file of preference examples cannot train a supervised job.
    refused("training_file", training_file=PREFERENCE)


def test_a_model_the_entry_cannot_train_is_a_400_naming_model():
    error = refused("model", "meta/llama3.1-8b")
    assert "meta/llama3_1@llama-3.1-8b" in error.message  # the ids Vertex takes
    error = refused("model", context={**CONTEXT, "location": "asia-northeast1"})
    assert "asia-northeast1" in error.message and "us-central1" in error.message
    error = refused("model", context={"location": "us-central1", "output_base": None})
    assert "tuning_output_uri" in error.message


def test_the_entrys_output_folder_wins_over_its_bucket():
    sent = body(options={"tuning_output_uri": "gs://weights/llama"}, gateway_id="ftjob-1")
    assert sent["outputUri"] == "gs://weights/llama/ftproxy-tuning/ftjob-1"


def test_gemini_jobs_carry_no_open_model_fields():
    sent = body("gemini-2.5-flash")
    assert "outputUri" not in sent and "tuningMode" not in sent["supervisedTuningSpec"]
    assert sent["supervisedTuningSpec"]["trainingDatasetUri"] == CONVERTED
    gemini = "gemini-2.5-flash"
    refused("hyperparameters.learning_rate", gemini, hyperparameters={"learning_rate": 1})
    refused("hyperparameters.tuning_mode", gemini, hyperparameters={"tuning_mode": "full"})


def test_the_catalogue_is_the_documented_one():
    assert len(OPEN_MODELS) == 15
    assert OPEN_MODELS[SCOUT].max_sequence_length == 2048
    assert set(OPEN_MODEL_REGIONS) >= {"us-central1", "europe-west4"}


def test_tuning_output_uri_is_checked_with_the_entry():
    VertexProvider.check_entry(entry(tuning_output_uri="gs://weights/llama"))
    with pytest.raises(ValueError, match="tuning_output_uri"):
        VertexProvider.check_entry(entry(tuning_output_uri="s3://weights"))
    with pytest.raises(ValueError, match="tuning_output_uri"):
        VertexProvider.check_entry(entry(api="files_settings", tuning_output_uri="gs://w"))


def test_the_provider_sends_the_open_model_job_and_refuses_before_sending():
    vertex = provider(vertex_location="us-central1")
    with responses.RequestsMock() as mocked:  # nothing registered: nothing may be sent
        with pytest.raises(ProviderInputError) as caught:
            vertex.create_job(JobCreate(model="qwen/qwen3@qwen3-72b", training_file=CONVERTED))
        assert caught.value.param == "model"
        vertex.check_job(JobCreate(model=LLAMA, training_file=CONVERTED))

        mock_token(mocked)
        mocked.add(
            responses.POST,
            f"{API_BETA}/tuningJobs",
            json=tuning_job("JOB_STATE_PENDING", baseModel=LLAMA),
        )
        job = vertex.create_job(
            JobCreate(model=LLAMA, training_file=CONVERTED, gateway_id="ftjob-9")
        )
        sent = json.loads(mocked.calls[-1].request.body)
    assert job.model == LLAMA
    assert sent["outputUri"] == f"gs://{BUCKET}/team-a/ftproxy-tuning/ftjob-9"
    assert sent["supervisedTuningSpec"]["tuningMode"] == "TUNING_MODE_PEFT_ADAPTER"
