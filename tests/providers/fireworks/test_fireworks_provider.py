"""Fireworks AI: datasets as files (direct and signed-URL uploads), the
supervised job body and its refusals, answers, and finding creates cut
short by the gateway's id."""

from __future__ import annotations

import io
import json

import pytest
import responses
from requests_toolbelt import MultipartDecoder

from ftproxy.errors import EntryError, ProviderFailure, ProviderInputError
from ftproxy.providers.data import FileUpload, JobCreate
from ftproxy.providers.fireworks import FireworksProvider

from .upstream import (
    ACCOUNT,
    API,
    DATASET,
    JOB,
    KEY,
    MODEL,
    SIGNED,
    dataset_json,
    entry,
    job_json,
    provider,
)

DATA = (
    b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}\n'
)
WANDB_KEY = "wandb-secret-fedcba9876"


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mocked:
        yield mocked


def upload(data: bytes = DATA, **fields) -> FileUpload:
    return FileUpload("train.jsonl", "fine-tune", io.BytesIO(data), len(data), **fields)


def test_a_file_is_a_dataset_named_by_the_gateways_id_and_uploaded_whole(rsps):
    rsps.add(responses.POST, f"{API}/datasets", json=dataset_json("UPLOADING"))
    rsps.add(responses.POST, f"{API}/datasets/{DATASET}:upload", json={"id": DATASET})
    rsps.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())
    created = provider().upload_file(upload(gateway_id=DATASET))
    create, send, _ = rsps.calls
    assert json.loads(create.request.body) == {
        "datasetId": DATASET,
        "dataset": {"displayName": "train.jsonl", "userUploaded": {}, "format": "CHAT"},
    }
    assert create.request.headers["Authorization"] == f"Bearer {KEY}"
    body = b"".join(send.request.body)
    parts = MultipartDecoder(body, send.request.headers["Content-Type"]).parts
    assert [p.content for p in parts] == [DATA]
    assert (created.remote_id, created.bytes, created.status) == (DATASET, len(DATA), "processed")


class SmallDirect(FireworksProvider):
    direct_upload_bytes = 10


def test_a_large_file_goes_to_a_signed_url_and_is_validated(rsps):
    rsps.add(responses.POST, f"{API}/datasets", json=dataset_json("UPLOADING"))
    endpoint = rsps.add(
        responses.POST,
        f"{API}/datasets/{DATASET}:getUploadEndpoint",
        json={"filenameToSignedUrls": {"train.jsonl": SIGNED}},
    )
    put = rsps.add(responses.PUT, SIGNED)
    validate = rsps.add(responses.POST, f"{API}/datasets/{DATASET}:validateUpload", json={})
    rsps.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())
    SmallDirect(entry()).upload_file(upload(gateway_id=DATASET))
    assert json.loads(endpoint.calls[0].request.body) == {
        "filenameToSize": {"train.jsonl": str(len(DATA))}
    }
    sent = put.calls[0].request
    assert b"".join(sent.body) == DATA and "Authorization" not in sent.headers
    assert validate.call_count == 1


def test_a_missing_signed_url_is_a_502(rsps):
    rsps.add(responses.POST, f"{API}/datasets", json=dataset_json("UPLOADING"))
    rsps.add(responses.POST, f"{API}/datasets/{DATASET}:getUploadEndpoint", json={})
    with pytest.raises(ProviderFailure):
        SmallDirect(entry()).upload_file(upload(gateway_id=DATASET))


def test_a_dataset_is_found_by_the_gateways_id_or_proven_absent(rsps):
    rsps.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())
    rsps.add(responses.GET, f"{API}/datasets/file-gone", status=404, json={"error": {}})
    assert provider().find_file(DATASET, upload()).remote_id == DATASET
    assert provider().find_file("file-gone", upload()) is None


def test_content_with_several_files_is_a_502(rsps):
    urls = {"a.jsonl": SIGNED, "b.jsonl": SIGNED + "2"}
    rsps.add(
        responses.GET,
        f"{API}/datasets/{DATASET}:getDownloadEndpoint",
        json={"filenameToSignedUrls": urls},
    )
    with pytest.raises(ProviderFailure):
        provider().file_content(DATASET)


def create(rsps, answer=None, entry_overrides=None, **fields):
    rsps.add(responses.POST, f"{API}/supervisedFineTuningJobs", json=answer or job_json())
    job = JobCreate(model=fields.pop("model", MODEL), training_file=DATASET, **fields)
    remote = provider(**(entry_overrides or {})).create_job(job)
    return remote, rsps.calls[-1].request


def test_the_job_carries_openais_fields_in_fireworks_words_and_the_gateways_id(rsps):
    remote, request = create(
        rsps,
        gateway_id=JOB,
        validation_file="file-val",
        suffix="support",
        method={
            "type": "supervised",
            "supervised": {
                "hyperparameters": {
                    "n_epochs": 2,
                    "batch_size": 16,
                    "learning_rate": 1e-4,
                    "lora_rank": 16,
                    "max_context_length": 8192,
                    "early_stop": True,
                    "weight_decay": 0.01,
                }
            },
        },
    )
    assert request.url.endswith(f"supervisedFineTuningJobs?supervisedFineTuningJobId={JOB}")
    assert json.loads(request.body) == {
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}",
        "baseModel": MODEL,
        "evaluationDataset": f"accounts/{ACCOUNT}/datasets/file-val",
        "epochs": 2,
        "batchSizeSamples": 16,
        "learningRate": 1e-4,
        "loraRank": 16,
        "maxContextLength": 8192,
        "earlyStop": True,
        "optimizerWeightDecay": 0.01,
        "displayName": "support",
    }
    assert (remote.remote_id, remote.status, remote.raw_status) == (
        JOB,
        "queued",
        "JOB_STATE_CREATING",
    )


def test_a_model_of_the_account_continues_from_it(rsps):
    tuned = f"accounts/{ACCOUNT}/models/earlier-lora"
    _, request = create(rsps, model=tuned)
    body = json.loads(request.body)
    assert body["warmStartFrom"] == tuned and "baseModel" not in body
    assert provider().tuned_model_reference(tuned) == tuned
    assert provider().tuned_model_reference(MODEL) is None


def test_wandb_reports_with_the_entrys_key(rsps):
    integration = {"type": "wandb", "wandb": {"project": "p", "name": "run", "entity": "team"}}
    _, request = create(
        rsps, entry_overrides={"wandb_api_key": WANDB_KEY}, integrations=[integration]
    )
    assert json.loads(request.body)["wandbConfig"] == {
        "enabled": True,
        "apiKey": WANDB_KEY,
        "project": "p",
        "entity": "team",
        "runId": "run",
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"hyperparameters": {"learning_rate_multiplier": 2}},
            "hyperparameters.learning_rate_multiplier",
        ),
        ({"hyperparameters": {"lora_r": 8}}, "hyperparameters.lora_r"),
        ({"hyperparameters": {"lora_rank": 0}}, "hyperparameters.lora_rank"),
        ({"hyperparameters": {"early_stop": "yes"}}, "hyperparameters.early_stop"),
        ({"method": {"type": "dpo", "dpo": {}}}, "method.type"),
        ({"seed": 1}, "seed"),
        ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]}, "integrations"),
    ],
)
def test_what_fireworks_cannot_take_is_a_400_naming_it_before_anything_is_sent(fields, param):
    job = JobCreate(model=MODEL, training_file=DATASET, **fields)
    with responses.RequestsMock():
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(job)
    assert (caught.value.status_code, caught.value.param) == (400, param)


def test_a_job_is_found_by_the_gateways_id_or_proven_absent(rsps):
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/{JOB}", json=job_json())
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/ftjob-gone", status=404, json={})
    assert provider().find_job(JOB).remote_id == JOB
    assert provider().find_job("ftjob-gone") is None


def test_a_finished_job_reads_in_openais_words(rsps):
    rsps.add(
        responses.GET,
        f"{API}/supervisedFineTuningJobs/{JOB}",
        json=job_json("JOB_STATE_COMPLETED", batchSizeSamples=16),
    )
    job = provider().retrieve_job(JOB)
    assert job.fine_tuned_model == f"accounts/{ACCOUNT}/models/{JOB}"
    assert job.finished_at == 1699342316 and job.created_at == 1699335116
    assert job.hyperparameters == {"n_epochs": 2, "batch_size": 16, "learning_rate": 0.0001}
    assert job.training_file == DATASET
    assert job.upstream_fields["jobProgress"]["percent"] == 40
    assert job.upstream_fields["loraRank"] == 8


def test_a_failed_job_says_why(rsps):
    status = {"code": "INVALID_ARGUMENT", "message": "Dataset line 3 is not chat JSON"}
    rsps.add(
        responses.GET,
        f"{API}/supervisedFineTuningJobs/{JOB}",
        json=job_json("JOB_STATE_FAILED", status=status),
    )
    job = provider().retrieve_job(JOB)
    assert job.error == {
        "code": "INVALID_ARGUMENT",
        "message": "Dataset line 3 is not chat JSON",
        "param": None,
    }


def test_entry_checks_name_the_key():
    with pytest.raises(EntryError) as caught:
        FireworksProvider.check_entry({"api_key": "k", "account_id": "acme/other"})
    assert caught.value.key == "account_id"
    with pytest.raises(EntryError) as caught:
        FireworksProvider.check_entry({"api_key": "k", "account_id": "acme", "api_base": "x"})
    assert caught.value.key == "api_base"
