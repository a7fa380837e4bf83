"""What the services add for Vertex AI: continuing from a model the gateway
returned (found in the ledger, per key), and Vertex's dataset feedback
recorded once in the job's events. Vertex is played by ``responses``."""

from __future__ import annotations

import json
import re

import pytest
import responses

from ftproxy.models import ApiKey, File, FineTuningJob, JobEvent
from tests.conftest import jsonl
from tests.factories import ledger_file, ledger_job
from tests.providers.vertex.helpers import (
    API,
    BUCKET,
    GCS,
    JOB_NAME,
    JOB_URL,
    LOCATION,
    PROJECT,
    mock_token,
    service_account_info,
    tuning_job,
)

pytestmark = pytest.mark.django_db

BASE = f"projects/{PROJECT}/locations/{LOCATION}"
MODEL = f"{BASE}/models/77@1"
ENDPOINT = f"{BASE}/endpoints/8"
CHECKPOINT_1 = f"{BASE}/endpoints/81"
TRAIN = "gs://tuning-data/team-a/ftproxy/0123456789abcdef0123456789abcdef/gemini/t.jsonl"
EARLIER = tuning_job(
    "JOB_STATE_SUCCEEDED",
    name=f"{BASE}/tuningJobs/1",
    tunedModel={
        "model": MODEL,
        "endpoint": ENDPOINT,
        "checkpoints": [
            {"checkpointId": "1", "step": "10", "endpoint": CHECKPOINT_1},
            {"checkpointId": "2", "step": "20", "endpoint": ENDPOINT},
        ],
    },
)


@pytest.fixture
def vertex(gateway_config):
    entry = {
        "custom_llm_provider": "vertex_ai",
        "vertex_project": PROJECT,
        "vertex_location": LOCATION,
        "vertex_credentials": json.dumps(service_account_info()),
        "max_retries": 0,
    }
    gateway_config(
        {
            "finetune_settings": [entry],
            "files_settings": [{**entry, "gcs_bucket_name": f"{BUCKET}/team-a"}],
        }
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_token(rsps)
        rsps.add_callback(responses.POST, f"{API}/tuningJobs", callback=echo_created_job)
        sessions = iter(range(100))
        rsps.add_callback(
            responses.POST,
            f"{GCS}/upload/storage/v1/b/{BUCKET}/o",
            callback=lambda r: (200, {"Location": f"{GCS}/upload/session/{next(sessions)}"}, ""),
        )
        rsps.add(responses.PUT, re.compile(re.escape(f"{GCS}/upload/session/") + r"\d+"), json={})
        yield rsps


def echo_created_job(request):
    """Vertex's answer to a create: the job as sent (a continued job has a
    ``preTunedModel`` and no ``baseModel``)."""
    body = json.loads(request.body)
    job = {k: v for k, v in tuning_job("JOB_STATE_PENDING").items() if k != "baseModel"}
    return 200, {}, json.dumps({**job, **body})


def key_named(name: str) -> tuple[str, ApiKey]:
    row, secret = ApiKey.create_key(name)
    return secret, row


def earlier_job(owner: ApiKey | None, public_id: str = "ftjob-earlier", **fields):
    values = {
        "remote_id": f"{BASE}/tuningJobs/{public_id}",
        "model": "gemini-2.0-flash-001",
        "fine_tuned_model": ENDPOINT,
        "provider_payload": EARLIER,
        "owner": owner,
    }
    return ledger_job(public_id, "succeeded", provider="vertex_ai", **{**values, **fields})


def sent_bodies(rsps) -> list[dict]:
    return [
        json.loads(c.request.body)
        for c in rsps.calls
        if c.request.method == "POST" and c.request.url == f"{API}/tuningJobs"
    ]


def continue_from(api, model: str, training_file: str):
    return api.post_json(
        "/v1/fine_tuning/jobs", {"model": model, "training_file": training_file, "suffix": "v2"}
    )


# ---- preference tuning through the API --------------------------------------


def test_a_dpo_file_uploaded_to_vertex_trains_a_dpo_job(vertex, master):
    line = {
        "input": {"messages": [{"role": "user", "content": "Capital of France?"}]},
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "Lyon."}],
    }
    uploaded = master.upload(jsonl(line, line))
    assert uploaded.status_code == 200, uploaded.content
    uri = File.objects.get(public_id=uploaded.json()["id"]).remote_id
    assert "/gemini-preference/" in uri

    method = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1, "n_epochs": 2}}}
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gemini-2.5-flash", "training_file": uploaded.json()["id"], "method": method},
    )

    assert response.status_code == 200, response.content
    [body] = sent_bodies(vertex)
    assert body["preferenceOptimizationSpec"] == {
        "trainingDatasetUri": uri,
        "hyperParameters": {"beta": 0.1, "epochCount": 2},
    }
    job = response.json()
    assert job["method"]["type"] == "dpo"
    assert job["method"]["dpo"]["hyperparameters"]["beta"] == 0.1
    assert job["training_file"] == uploaded.json()["id"]


# ---- continued tuning ----------------------------------------------------


def test_a_key_continues_from_a_checkpoint_of_its_own_earlier_job(vertex, api_as):
    secret, owner = key_named("alice")
    earlier_job(owner)
    ledger_file("file-t", provider="vertex_ai", remote_id=TRAIN, owner=owner)

    response = continue_from(api_as(secret), CHECKPOINT_1, "file-t")

    assert response.status_code == 200, response.content
    [body] = sent_bodies(vertex)
    assert body["preTunedModel"] == {"tunedModelName": MODEL, "checkpointId": "1"}
    assert "baseModel" not in body
    job = response.json()
    assert job["model"] == CHECKPOINT_1  # what the user named, as OpenAI answers an ft: model
    assert FineTuningJob.objects.get(public_id=job["id"]).model == CHECKPOINT_1


def test_the_fine_tuned_model_continues_from_the_checkpoint_deployed_on_it(vertex, api_as):
    secret, owner = key_named("alice")
    earlier_job(owner)
    # A longer endpoint id must not be taken for this one (…/endpoints/8 vs …/endpoints/88).
    earlier_job(
        owner,
        "ftjob-other",
        fine_tuned_model=f"{BASE}/endpoints/88",
        provider_payload=tuning_job(
            "JOB_STATE_SUCCEEDED",
            tunedModel={"model": f"{BASE}/models/5", "endpoint": f"{BASE}/endpoints/88"},
        ),
    )
    ledger_file("file-t", provider="vertex_ai", remote_id=TRAIN, owner=owner)

    response = continue_from(api_as(secret), ENDPOINT, "file-t")

    assert response.status_code == 200, response.content
    assert sent_bodies(vertex)[0]["preTunedModel"] == {"tunedModelName": MODEL, "checkpointId": "2"}


def test_a_later_job_that_continued_from_the_model_does_not_hide_the_one_that_made_it(
    vertex, master
):
    earlier_job(None)
    later = tuning_job(
        "JOB_STATE_SUCCEEDED",
        preTunedModel={"tunedModelName": MODEL},
        tunedModel={"model": f"{BASE}/models/77@2", "endpoint": f"{BASE}/endpoints/9"},
    )
    earlier_job(None, "ftjob-later", fine_tuned_model=f"{BASE}/endpoints/9", provider_payload=later)

    response = continue_from(master, CHECKPOINT_1, TRAIN)

    assert response.status_code == 200, response.content
    assert sent_bodies(vertex)[0]["preTunedModel"]["checkpointId"] == "1"


def test_another_keys_fine_tuned_model_is_refused_and_nothing_is_sent(vertex, api_as):
    _, alice = key_named("alice")
    bob_secret, bob = key_named("bob")
    earlier_job(alice)
    ledger_file("file-b", provider="vertex_ai", remote_id=TRAIN, owner=bob)

    for model in (ENDPOINT, CHECKPOINT_1, MODEL):
        response = continue_from(api_as(bob_secret), model, "file-b")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["param"], error["code"]) == ("model", "model_not_found")
        assert "no such fine-tuned model" in error["message"]
    assert sent_bodies(vertex) == []
    assert not FineTuningJob.objects.filter(owner=bob).exists()


def test_the_master_key_continues_from_any_keys_model(vertex, master):
    _, alice = key_named("alice")
    earlier_job(alice)
    response = continue_from(master, ENDPOINT, TRAIN)
    assert response.status_code == 200, response.content
    assert sent_bodies(vertex)[0]["preTunedModel"]["tunedModelName"] == MODEL


def test_a_key_may_name_its_own_jobs_tuned_model_resource_but_no_other(vertex, api_as):
    secret, owner = key_named("alice")
    earlier_job(owner)
    ledger_file("file-t", provider="vertex_ai", remote_id=TRAIN, owner=owner)
    api = api_as(secret)

    assert continue_from(api, MODEL, "file-t").status_code == 200
    assert sent_bodies(vertex)[0]["preTunedModel"] == {"tunedModelName": MODEL}
    # A resource no job of this key produced, as with raw gs:// URIs: master key only.
    response = continue_from(api, f"{BASE}/models/12345", "file-t")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_found"
    assert len(sent_bodies(vertex)) == 1


def test_the_master_key_may_name_any_tuned_model_resource(vertex, master):
    response = continue_from(master, f"{BASE}/models/12345", TRAIN)
    assert response.status_code == 200, response.content
    assert sent_bodies(vertex)[0]["preTunedModel"] == {"tunedModelName": f"{BASE}/models/12345"}


def test_a_base_model_needs_no_earlier_job(vertex, api_as):
    secret, owner = key_named("alice")
    ledger_file("file-t", provider="vertex_ai", remote_id=TRAIN, owner=owner)
    response = continue_from(api_as(secret), "gemini-2.0-flash-001", "file-t")
    assert response.status_code == 200, response.content
    assert sent_bodies(vertex)[0]["baseModel"] == "gemini-2.0-flash-001"


def test_an_endpoint_no_ledger_job_produced_is_a_400_naming_model(vertex, master):
    response = continue_from(master, f"{BASE}/endpoints/404", TRAIN)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
    assert sent_bodies(vertex) == []


# ---- dataset feedback ----------------------------------------------------

STATS = {
    "supervisedTuningDataStats": {
        "tuningDatasetExampleCount": "120",
        "totalBillableTokenCount": "45678",
        "tuningStepCount": "30",
        "totalTruncatedExampleCount": "2",
        "truncatedExampleIndices": ["4", "17"],
        "droppedExampleReasons": ["Too many tokens.", "Empty model turn."],
    }
}


def test_vertexs_dataset_feedback_becomes_job_events_once(vertex, master):
    job = ledger_job("ftjob-v", "queued", provider="vertex_ai", remote_id=JOB_NAME)
    vertex.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_RUNNING"))
    vertex.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_RUNNING", tuningDataStats=STATS))

    for _ in range(3):  # before the stats, when they appear, and once more
        assert master.get(f"/v1/fine_tuning/jobs/{job.public_id}").status_code == 200

    events = master.get(f"/v1/fine_tuning/jobs/{job.public_id}/events").json()["data"]
    messages = [(e["level"], e["message"]) for e in events]
    assert messages == [
        (
            "warn",
            "Vertex AI truncated or dropped 2 examples of the training dataset "
            "(example 4: Too many tokens.; example 17: Empty model turn.).",
        ),
        (
            "info",
            "Vertex AI read the training dataset: 120 examples, 45678 billable tokens per "
            "epoch, 30 tuning steps.",
        ),
        ("info", "Status changed from queued to running"),
    ]
    assert events[1]["data"]["tuningDatasetExampleCount"] == 120
    assert events[0]["data"]["example_indices"] == [4, 17]
    assert JobEvent.objects.filter(job=job).count() == 3


def test_preference_dataset_feedback_names_the_dropped_examples(vertex, master):
    job = ledger_job("ftjob-p", "running", provider="vertex_ai", remote_id=JOB_NAME)
    stats = {
        "preferenceOptimizationDataStats": {
            "tuningDatasetExampleCount": "1",
            "totalBillableTokenCount": "90",
            "droppedExampleIndices": ["3"],
            "droppedExampleReasons": ["The prompt does not end with a user turn."],
        }
    }
    vertex.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_RUNNING", tuningDataStats=stats))
    master.get(f"/v1/fine_tuning/jobs/{job.public_id}")
    messages = list(JobEvent.objects.filter(job=job).order_by("id").values_list("message", "level"))
    assert messages == [
        ("Vertex AI read the training dataset: 1 example, 90 billable tokens per epoch.", "info"),
        (
            "Vertex AI truncated or dropped 1 example of the training dataset "
            "(example 3: The prompt does not end with a user turn.).",
            "warn",
        ),
    ]
