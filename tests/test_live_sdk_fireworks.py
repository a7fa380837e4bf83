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


PREFERENCES = b"".join(
    json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": f"Question {n}?"}]},
            "preferred_output": [{"role": "assistant", "content": f"A clear answer {n}."}],
            "non_preferred_output": [{"role": "assistant", "content": "Dunno."}],
        }
    ).encode()
    + b"\n"
    for n in range(3)
)


class FireworksDpo(Fireworks):
    """Also DPO jobs, a collection apart: an id of one is no supervised job."""

    def __init__(self, rsps: responses.RequestsMock):
        self.dpo_jobs: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        super().__init__(rsps)
        rsps.add_callback(
            responses.POST,
            re.compile(re.escape(f"{API}/dpoJobs") + r"(\?.*)?$"),
            callback=self._new_dpo_job,
        )
        rsps.add_callback(
            responses.GET,
            re.compile(re.escape(f"{API}/dpoJobs/") + r"[^/:]+$"),
            callback=self._dpo_job,
        )
        rsps.add_callback(
            responses.POST,
            re.compile(re.escape(f"{API}/") + r"(supervisedFineTuningJobs|dpoJobs)/[^/]+:cancel$"),
            callback=self._cancel,
        )

    def _job(self, request):
        job_id = request.url.rsplit("/", 1)[-1]
        if job_id not in self.jobs:
            return 404, {}, json.dumps({"error": {"code": 404, "message": "not found"}})
        return super()._job(request)

    def _new_dpo_job(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        job_id = request.url.split("dpoJobId=", 1)[1]
        self.dpo_jobs[job_id] = {
            "name": f"accounts/{ACCOUNT}/dpoJobs/{job_id}",
            "createTime": "2025-03-01T10:00:00Z",
            "state": "JOB_STATE_CREATING",
            "dataset": body["dataset"],
            "displayName": body.get("displayName"),
            "trainingConfig": {
                **body["trainingConfig"],
                "outputModel": f"accounts/{ACCOUNT}/models/{job_id}",
            },
            "lossConfig": body["lossConfig"],
        }
        return 200, {}, json.dumps(self.dpo_jobs[job_id])

    def _dpo_job(self, request):
        return 200, {}, json.dumps(self.dpo_jobs[request.url.rsplit("/", 1)[-1]])

    def _cancel(self, request):
        collection, rest = request.url[len(API) + 1 :].split("/", 1)
        job_id = rest.split(":", 1)[0]
        jobs = self.jobs if collection == "supervisedFineTuningJobs" else self.dpo_jobs
        if job_id not in jobs:
            return 404, {}, json.dumps({"error": {"code": 404, "message": "not found"}})
        self.cancelled.append(collection)
        jobs[job_id]["state"] = "JOB_STATE_CANCELLED"
        return 200, {}, json.dumps({})


def test_a_preference_file_trains_a_dpo_job_on_fireworks(sdk_as, make_key):
    client = sdk_as(make_key("team"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fireworks = FireworksDpo(rsps)
        uploaded = client.files.create(
            file=("prefs.jsonl", PREFERENCES),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "fireworks"},
        )
        assert PREFERENCES in fireworks.uploaded[uploaded.id]  # sent as OpenAI wrote it
        job = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=uploaded.id,
            method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "beta": "auto"}}},
            suffix="prefs",
            extra_body={"custom_llm_provider": "fireworks"},
        )
        [sent] = fireworks.created
        assert sent == {
            "dataset": f"accounts/{ACCOUNT}/datasets/{uploaded.id}",
            "trainingConfig": {"baseModel": MODEL, "epochs": 1},
            "lossConfig": {"method": "DPO"},
            "displayName": "prefs",
        }
        assert job.id in fireworks.dpo_jobs and job.method.type == "dpo"

        fireworks.dpo_jobs[job.id]["state"] = "JOB_STATE_RUNNING"
        running = client.fine_tuning.jobs.retrieve(job.id)
        assert (running.status, running.method.type) == ("running", "dpo")
        assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]
        cancelled = client.fine_tuning.jobs.cancel(job.id)
        assert cancelled.status == "cancelled" and fireworks.cancelled == ["dpoJobs"]

        with pytest.raises(openai.BadRequestError) as refused:
            client.fine_tuning.jobs.create(
                model=MODEL,
                training_file=uploaded.id,
                method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
                extra_body={"custom_llm_provider": "fireworks"},
            )
        assert refused.value.body["param"] == "method.dpo.hyperparameters.beta"
        assert len(fireworks.created) == 1
