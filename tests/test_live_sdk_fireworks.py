"""The real ``openai`` SDK against the running gateway, training on Fireworks
AI: a file uploaded on the sandbox is copied to a Fireworks dataset named by
the gateway's id, a supervised job takes Fireworks' own settings by name and
is named by the gateway's id too, reads back in OpenAI's words, and a
second job continues from the first one's model. Fireworks' API is played
by ``responses`` (shaped from its REST reference and the ``fireworks-ai``
SDK)."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest
import responses

from tests.conftest import TRAINING
from tests.providers.fireworks.upstream import ACCOUNT, API, KEY, MODEL, ROOT, job_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_as(live_server, gateway_config, sandbox_entry):
    fireworks = {
        "custom_llm_provider": "fireworks",
        "api_key": KEY,
        "account_id": ACCOUNT,
        "api_base": ROOT,
    }
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, fireworks],
            "files_settings": [dict(sandbox_entry), dict(fireworks)],
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


class Fireworks:
    """Datasets and supervised fine-tuning jobs, one record each."""

    def __init__(self, rsps: responses.RequestsMock):
        self.datasets: dict[str, dict[str, Any]] = {}
        self.uploaded: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        dataset = re.compile(re.escape(f"{API}/datasets/") + r"[^/:]+$")
        job = re.compile(re.escape(f"{API}/supervisedFineTuningJobs/") + r"[^/:]+$")
        rsps.add_callback(responses.POST, f"{API}/datasets", callback=self._new_dataset)
        rsps.add_callback(
            responses.POST,
            re.compile(re.escape(f"{API}/datasets/") + r"[^/]+:upload$"),
            callback=self._upload,
        )
        rsps.add_callback(responses.GET, dataset, callback=self._dataset)
        rsps.add_callback(
            responses.POST,
            re.compile(re.escape(f"{API}/supervisedFineTuningJobs") + r"(\?.*)?$"),
            callback=self._new_job,
        )
        rsps.add_callback(responses.GET, job, callback=self._job)

    def _new_dataset(self, request):
        body = json.loads(request.body)
        name = f"accounts/{ACCOUNT}/datasets/{body['datasetId']}"
        self.datasets[body["datasetId"]] = {
            "name": name,
            "displayName": body["dataset"]["displayName"],
            "createTime": "2025-03-01T10:00:00Z",
            "state": "UPLOADING",
        }
        return 200, {}, json.dumps(self.datasets[body["datasetId"]])

    def _upload(self, request):
        dataset_id = request.url.rsplit("/", 1)[-1].split(":", 1)[0]
        body = request.body if isinstance(request.body, bytes) else b"".join(request.body)
        self.uploaded[dataset_id] = body
        self.datasets[dataset_id]["state"] = "READY"
        return 200, {}, json.dumps({"id": dataset_id, "object": "file", "bytes": len(body)})

    def _dataset(self, request):
        return 200, {}, json.dumps(self.datasets[request.url.rsplit("/", 1)[-1]])

    def _new_job(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        job_id = request.url.split("supervisedFineTuningJobId=", 1)[1]
        job = job_json(
            "JOB_STATE_CREATING",
            name=f"accounts/{ACCOUNT}/supervisedFineTuningJobs/{job_id}",
            dataset=body["dataset"],
            outputModel=f"accounts/{ACCOUNT}/models/{job_id}",
        )
        job.pop("baseModel")
        job.update({k: v for k, v in body.items() if k in ("baseModel", "warmStartFrom")})
        self.jobs[job_id] = job
        return 200, {}, json.dumps(job)

    def _job(self, request):
        return 200, {}, json.dumps(self.jobs[request.url.rsplit("/", 1)[-1]])


def test_a_sandbox_file_trains_on_fireworks_and_continues_from_its_model(sdk_as, make_key):
    client = sdk_as(make_key("team"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fireworks = Fireworks(rsps)
        uploaded = client.files.create(
            file=("train.jsonl", TRAINING),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "sandbox"},
        )
        job = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=uploaded.id,
            hyperparameters={"n_epochs": 2, "lora_rank": 16, "learning_rate": 1e-4},
            suffix="support",
            extra_body={"custom_llm_provider": "fireworks"},
        )
        [(dataset_id, data)] = fireworks.uploaded.items()
        assert TRAINING in data  # the multipart body carries the bytes as uploaded
        sent = fireworks.created[0]
        assert sent["dataset"] == f"accounts/{ACCOUNT}/datasets/{dataset_id}"
        assert (sent["baseModel"], sent["epochs"], sent["loraRank"]) == (MODEL, 2, 16)
        assert (sent["learningRate"], sent["displayName"]) == (1e-4, "support")
        assert job.id.startswith("ftjob-") and job.id in fireworks.jobs
        assert job.status == "queued" and job.training_file == uploaded.id

        fireworks.jobs[job.id]["state"] = "JOB_STATE_COMPLETED"
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded"
        assert done.fine_tuned_model == f"accounts/{ACCOUNT}/models/{job.id}"
        events = client.fine_tuning.jobs.list_events(job.id).data
        assert events  # the gateway's status history serves as the events

        again = client.fine_tuning.jobs.create(
            model=done.fine_tuned_model,
            training_file=uploaded.id,
            extra_body={"custom_llm_provider": "fireworks"},
        )
        assert fireworks.created[1]["warmStartFrom"] == done.fine_tuned_model
        assert "baseModel" not in fireworks.created[1]
        assert again.status == "queued"
