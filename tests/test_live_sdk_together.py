"""The real ``openai`` SDK against the running gateway, training on Together
AI: a file uploaded on the sandbox is copied to Together (its signed-URL
upload), a LoRA job takes Together's own settings by name, reads back in
OpenAI's words with its checkpoints, and a second job continues from one of
them. Together's API is played by ``responses`` (shaped from its API
reference and the ``together`` SDK); the gateway's ids are Together's."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import openai
import pytest
import responses

from tests.conftest import MASTER_KEY, TRAINING
from tests.providers.together.upstream import API, KEY, MODEL, STORAGE, job_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_as(live_server, gateway_config, sandbox_entry):
    """The sandbox and Together AI for files and fine-tuning."""
    together = {"custom_llm_provider": "together", "api_key": KEY, "api_base": API}
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, together],
            "files_settings": [dict(sandbox_entry), dict(together)],
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


class Together:
    """Files (signed-URL uploads) and fine-tunes, one record per job."""

    def __init__(self, rsps: responses.RequestsMock):
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._pending: list[str] = []
        rsps.add_callback(responses.POST, f"{API}/files", callback=self._announce)
        rsps.add_callback(responses.PUT, STORAGE, callback=self._put)
        rsps.add_callback(
            responses.POST,
            re.compile(re.escape(f"{API}/files/") + r"[^/]+/preprocess"),
            callback=self._preprocess,
        )
        rsps.add_callback(responses.POST, f"{API}/fine-tunes", callback=self._create)
        for n in (1, 2):
            job = f"ft-0000000{n}-aaaa-bbbb-cccc-dddddddddddd"
            rsps.add_callback(responses.GET, f"{API}/fine-tunes/{job}", callback=self._get)
            rsps.add(
                responses.GET,
                f"{API}/fine-tunes/{job}/checkpoints",
                json={
                    "data": [
                        {
                            "step": 5,
                            "checkpoint_type": "Intermediate",
                            "created_at": "2025-03-01T10:30:00Z",
                        },
                        {
                            "step": 10,
                            "checkpoint_type": "Final",
                            "created_at": "2025-03-01T11:00:00Z",
                        },
                    ]
                },
            )

    def _announce(self, request):
        file_id = f"file-tg-{next(self._ids)}"
        self._pending.append(file_id)
        return 302, {"Location": STORAGE, "X-Together-File-Id": file_id}, ""

    def _put(self, request):
        body = request.body if isinstance(request.body, bytes) else b"".join(request.body)
        self.files[self._pending[-1]] = body
        return 200, {}, ""

    def _preprocess(self, request):
        file_id = request.url.rsplit("/", 2)[-2]
        answer = {
            "id": file_id,
            "object": "file",
            "created_at": 1740823200,
            "purpose": "fine-tune",
            "filename": "train.jsonl",
            "bytes": len(self.files[file_id]),
            "Processed": True,
        }
        return 200, {}, json.dumps(answer)

    def _create(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        job_id = f"ft-0000000{len(self.created)}-aaaa-bbbb-cccc-dddddddddddd"
        job = job_json("pending", id=job_id, training_file=body["training_file"])
        job["model"] = body.get("model")
        job["from_checkpoint"] = body.get("from_checkpoint")
        self.jobs[job_id] = job
        return 200, {}, json.dumps(job)

    def _get(self, request):
        return 200, {}, json.dumps(self.jobs[request.url.rsplit("/", 1)[-1]])


def test_a_sandbox_file_trains_on_together_and_continues_from_a_checkpoint(sdk_as, make_key):
    client = sdk_as(make_key("team"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        together = Together(rsps)
        uploaded = client.files.create(
            file=("train.jsonl", TRAINING),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "sandbox"},
        )
        job = client.fine_tuning.jobs.create(
            model=MODEL,
            training_file=uploaded.id,
            method={
                "type": "supervised",
                "supervised": {
                    "hyperparameters": {"n_epochs": 2, "lora_r": 16, "learning_rate": 2e-5}
                },
            },
            seed=3,
            extra_body={"custom_llm_provider": "together"},
        )
        assert together.files["file-tg-1"] == TRAINING  # copied byte for byte
        sent = together.created[0]
        assert sent["training_file"] == "file-tg-1" and sent["model"] == MODEL
        assert sent["training_type"] == {"type": "Lora", "lora_r": 16, "lora_alpha": 32}
        assert (sent["n_epochs"], sent["learning_rate"], sent["random_seed"]) == (2, 2e-5, 3)
        assert job.id == "ft-00000001-aaaa-bbbb-cccc-dddddddddddd" and job.status == "queued"
        assert job.training_file == uploaded.id  # the user's file id, not Together's

        together.jobs[job.id].update(status="completed")
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded" and done.fine_tuned_model
        checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
        names = [c.fine_tuned_model_checkpoint for c in checkpoints]
        assert names == [job.id, f"{job.id}:5"]

        again = client.fine_tuning.jobs.create(
            model=names[1],
            training_file=uploaded.id,
            extra_body={"custom_llm_provider": "together"},
        )
        assert together.created[1]["from_checkpoint"] == f"{job.id}:5"
        assert "model" not in together.created[1]
        assert again.status == "queued"


def test_another_keys_checkpoint_is_refused_and_settings_of_other_kinds_too(sdk_as, make_key):
    owner, other = sdk_as(make_key("owner")), sdk_as(make_key("other"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        together = Together(rsps)
        uploaded = owner.files.create(
            file=("train.jsonl", TRAINING),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "sandbox"},
        )
        job = owner.fine_tuning.jobs.create(
            model=MODEL, training_file=uploaded.id, extra_body={"custom_llm_provider": "together"}
        )
        together.jobs[job.id].update(status="completed")
        owner.fine_tuning.jobs.retrieve(job.id)
        theirs = other.files.create(
            file=("train.jsonl", TRAINING),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "sandbox"},
        )
        with pytest.raises(openai.BadRequestError) as caught:
            other.fine_tuning.jobs.create(
                model=f"{job.id}:5",
                training_file=theirs.id,
                extra_body={"custom_llm_provider": "together"},
            )
        assert caught.value.body["param"] == "model"
        with pytest.raises(openai.BadRequestError) as caught:
            owner.fine_tuning.jobs.create(
                model="gpt-4o-mini-2024-07-18",
                training_file=uploaded.id,
                hyperparameters={"lora_r": 8},
                extra_body={"custom_llm_provider": "sandbox"},
            )
        assert caught.value.body["param"] == "hyperparameters.lora_r"
        assert "exists only on together" in caught.value.body["message"]
        assert len(together.created) == 1
    master = sdk_as(MASTER_KEY)
    assert master.fine_tuning.jobs.list().data
