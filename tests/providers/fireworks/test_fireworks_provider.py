"""Fireworks AI: datasets as files (direct and signed-URL uploads), the
supervised job body and its refusals, answers, and finding creates cut
short by the gateway's id."""

from __future__ import annotations

import io
import json

import pytest
import responses
from requests_toolbelt import MultipartDecoder

from ftproxy.errors import EntryError, ProviderFailure, ProviderInputError, ProviderNotFound
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
    dpo_job_json,
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


PREFERENCE = (
    b'{"input": {"messages": [{"role": "user", "content": "Hi"}]}, '
    b'"preferred_output": [{"role": "assistant", "content": "Hello!"}], '
    b'"non_preferred_output": [{"role": "assistant", "content": "What."}]}\n'
)


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
        ({"method": {"type": "reinforcement", "reinforcement": {}}}, "method.type"),
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
    rsps.add(responses.GET, f"{API}/dpoJobs/ftjob-gone", status=404, json={})
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


# ---- DPO jobs (``dpoJobs``) ----------------------------------------------------
def dpo(**hyperparameters) -> dict:
    return {"type": "dpo", "dpo": {"hyperparameters": hyperparameters}}


def create_dpo(rsps, answer=None, entry_overrides=None, **fields):
    rsps.add(responses.POST, f"{API}/dpoJobs", json=answer or dpo_job_json())
    job = JobCreate(model=fields.pop("model", MODEL), training_file=DATASET, **fields)
    remote = provider(**(entry_overrides or {})).create_job(job)
    return remote, rsps.calls[-1].request


def test_a_preference_file_is_uploaded_as_openai_wrote_it(rsps):
    rsps.add(responses.POST, f"{API}/datasets", json=dataset_json("UPLOADING"))
    rsps.add(responses.POST, f"{API}/datasets/{DATASET}:upload", json={})
    rsps.add(responses.GET, f"{API}/datasets/{DATASET}", json=dataset_json())
    provider().upload_file(upload(PREFERENCE, gateway_id=DATASET))
    sent = rsps.calls[1].request
    parts = MultipartDecoder(b"".join(sent.body), sent.headers["Content-Type"]).parts
    assert parts[0].content == PREFERENCE


def test_a_dpo_job_goes_to_dpo_jobs_named_by_the_gateways_id(rsps):
    remote, request = create_dpo(
        rsps,
        gateway_id=JOB,
        suffix="prefs",
        method=dpo(
            n_epochs=2,
            batch_size=8,
            beta="auto",
            learning_rate_multiplier="auto",
            learning_rate=5e-5,
            lora_rank=16,
            max_context_length=4096,
            learning_rate_warmup_steps=10,
            gradient_accumulation_steps=2,
            weight_decay=0.01,
        ),
    )
    assert request.url.endswith(f"dpoJobs?dpoJobId={JOB}")
    assert json.loads(request.body) == {
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}",
        "trainingConfig": {
            "baseModel": MODEL,
            "epochs": 2,
            "batchSizeSamples": 8,
            "learningRate": 5e-5,
            "loraRank": 16,
            "maxContextLength": 4096,
            "learningRateWarmupSteps": 10,
            "gradientAccumulationSteps": 2,
            "optimizerWeightDecay": 0.01,
        },
        "lossConfig": {"method": "DPO"},
        "displayName": "prefs",
    }
    assert (remote.remote_id, remote.status, remote.method["type"]) == (JOB, "queued", "dpo")


def test_a_dpo_job_continues_from_a_model_of_the_account_and_reports_to_wandb(rsps):
    tuned = f"accounts/{ACCOUNT}/models/earlier-lora"
    integration = {"type": "wandb", "wandb": {"project": "p"}}
    _, request = create_dpo(
        rsps,
        model=tuned,
        method=dpo(),
        entry_overrides={"wandb_api_key": WANDB_KEY},
        integrations=[integration],
    )
    body = json.loads(request.body)
    assert body["trainingConfig"] == {"warmStartFrom": tuned}
    assert body["wandbConfig"] == {"enabled": True, "apiKey": WANDB_KEY, "project": "p"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"method": dpo(beta=0.1)}, "method.dpo.hyperparameters.beta"),
        (
            {"method": dpo(learning_rate_multiplier=2)},
            "method.dpo.hyperparameters.learning_rate_multiplier",
        ),
        ({"method": dpo(early_stop=True)}, "method.dpo.hyperparameters.early_stop"),
        ({"method": dpo(is_turbo=True)}, "method.dpo.hyperparameters.is_turbo"),
        ({"method": dpo(nodes=2)}, "method.dpo.hyperparameters.nodes"),
        ({"method": dpo(eval_auto_carveout=True)}, "method.dpo.hyperparameters.eval_auto_carveout"),
        ({"method": dpo(lora_rank=0)}, "method.dpo.hyperparameters.lora_rank"),
        ({"method": dpo(lora_r=8)}, "method.dpo.hyperparameters.lora_r"),
        ({"method": dpo(), "hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"method": dpo(), "validation_file": "file-val"}, "validation_file"),
        ({"method": dpo(), "seed": 3}, "seed"),
        ({"method": dpo(), "training_type": "standard"}, "trainingType"),
    ],
)
def test_what_fireworks_dpo_cannot_take_is_a_400_naming_it_before_anything_is_sent(fields, param):
    job = JobCreate(model=MODEL, training_file=DATASET, **fields)
    with responses.RequestsMock():
        with pytest.raises(ProviderInputError) as caught:
            provider().check_job(job)
        with pytest.raises(ProviderInputError):
            provider().create_job(job)
    assert (caught.value.status_code, caught.value.param) == (400, param)
    assert caught.value.provider == "fireworks"


def test_a_dpo_job_is_read_from_dpo_jobs_when_no_supervised_job_has_its_id(rsps):
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/{JOB}", status=404, json={})
    rsps.add(
        responses.GET,
        f"{API}/dpoJobs/{JOB}",
        json=dpo_job_json("JOB_STATE_COMPLETED", displayName="prefs"),
    )
    job = provider().retrieve_job(JOB)
    assert (job.remote_id, job.status, job.terminal) == (JOB, "succeeded", True)
    assert job.model == MODEL and job.training_file == DATASET
    assert job.fine_tuned_model == f"accounts/{ACCOUNT}/models/{JOB}"
    assert job.finished_at == 1699342316 and job.suffix == "prefs"
    assert job.hyperparameters == {"n_epochs": 2, "batch_size": 8, "learning_rate": 5e-5}
    assert job.method == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"n_epochs": 2, "batch_size": 8, "learning_rate": 5e-5}},
    }
    assert job.upstream_fields["trainingConfig"] == {"loraRank": 8}
    assert job.upstream_fields["lossConfig"] == {"method": "DPO"}
    assert "dataset" not in job.upstream_fields


def test_a_dpo_job_is_found_by_the_gateways_id(rsps):
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/{JOB}", status=404, json={})
    rsps.add(responses.GET, f"{API}/dpoJobs/{JOB}", json=dpo_job_json("JOB_STATE_RUNNING"))
    found = provider().find_job(JOB)
    assert (found.remote_id, found.status, found.fine_tuned_model) == (JOB, "running", None)


def test_a_failed_dpo_job_says_why(rsps):
    status = {"code": "INVALID_ARGUMENT", "message": "Line 2 has no non_preferred_output"}
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/{JOB}", status=404, json={})
    rsps.add(
        responses.GET, f"{API}/dpoJobs/{JOB}", json=dpo_job_json("JOB_STATE_FAILED", status=status)
    )
    job = provider().retrieve_job(JOB)
    assert (job.status, job.fine_tuned_model) == ("failed", None)
    assert job.error == {
        "code": "INVALID_ARGUMENT",
        "message": "Line 2 has no non_preferred_output",
        "param": None,
    }


def test_a_dpo_job_is_cancelled_through_dpo_jobs(rsps):
    rsps.add(responses.POST, f"{API}/supervisedFineTuningJobs/{JOB}:cancel", status=404, json={})
    cancel = rsps.add(responses.POST, f"{API}/dpoJobs/{JOB}:cancel", json={})
    rsps.add(responses.GET, f"{API}/dpoJobs/{JOB}", json=dpo_job_json("JOB_STATE_CANCELLING"))
    job = provider().cancel_job(JOB)
    assert cancel.call_count == 1 and json.loads(rsps.calls[1].request.body) == {}
    assert (job.status, job.terminal, job.method["type"]) == ("cancelled", False, "dpo")


def test_an_id_that_is_neither_job_is_a_404(rsps):
    rsps.add(responses.GET, f"{API}/supervisedFineTuningJobs/{JOB}", status=404, json={})
    rsps.add(responses.GET, f"{API}/dpoJobs/{JOB}", status=404, json={})
    with pytest.raises(ProviderNotFound):
        provider().retrieve_job(JOB)


def test_the_provider_declares_dpo():
    assert FireworksProvider.training_methods == {"supervised", "dpo"}
