"""The real ``openai`` SDK against the running gateway on Vertex AI: a DPO
file trains a DPO job, its dataset feedback shows in the events, and a new
job continues from one of its checkpoints, named as the checkpoints list
gives it. Cloud Storage and ``tuningJobs`` are played by ``responses``."""

from __future__ import annotations

import io
import itertools
import json
import re
from typing import Any

import openai
import pytest
import responses

from tests.conftest import jsonl
from tests.providers.vertex.helpers import API, BUCKET, GCS, LOCATION, PROJECT, tuning_job
from tests.test_live_sdk_vertex import sdk_as, token_endpoint  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

BASE = f"projects/{PROJECT}/locations/{LOCATION}"
JOB = re.compile(
    re.escape(f"https://{LOCATION}-aiplatform.googleapis.com/v1/{BASE}/tuningJobs/") + r"\d+"
)
STATS = {
    "preferenceOptimizationDataStats": {
        "tuningDatasetExampleCount": "2",
        "totalBillableTokenCount": "64",
        "droppedExampleIndices": ["2"],
        "droppedExampleReasons": ["Too long."],
    }
}


class Vertex:
    """tuningJobs with one resource per created job; Cloud Storage uploads."""

    def __init__(self, rsps: responses.RequestsMock, token_uri: str):
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        sessions = itertools.count()
        rsps.add_passthru(token_uri)
        rsps.add_callback(
            responses.POST,
            f"{GCS}/upload/storage/v1/b/{BUCKET}/o",
            callback=lambda r: (200, {"Location": f"{GCS}/upload/session/{next(sessions)}"}, ""),
        )
        rsps.add(responses.PUT, re.compile(re.escape(f"{GCS}/upload/session/") + r"\d+"), json={})
        rsps.add_callback(responses.POST, f"{API}/tuningJobs", callback=self._create)
        rsps.add_callback(responses.GET, JOB, callback=self._get)

    def _create(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        job = {k: v for k, v in tuning_job("JOB_STATE_PENDING").items() if k != "baseModel"}
        del job["supervisedTuningSpec"]
        job.update(body, name=f"{BASE}/tuningJobs/{next(self._ids)}")
        self.jobs[job["name"]] = job
        return 200, {}, json.dumps(job)

    def _get(self, request):
        name = request.url.split("/v1/", 1)[1]
        return 200, {}, json.dumps(self.jobs[name])

    def succeed(self, name: str, number: int) -> None:
        """The job ends with two checkpoints; the last is on the model's endpoint."""
        endpoint = f"{BASE}/endpoints/{number}0"
        self.jobs[name].update(
            state="JOB_STATE_SUCCEEDED",
            endTime="2025-03-01T11:00:00Z",
            tuningDataStats=STATS,
            tunedModel={
                "model": f"{BASE}/models/{number}@1",
                "endpoint": endpoint,
                "checkpoints": [
                    {"checkpointId": "1", "step": "5", "endpoint": f"{BASE}/endpoints/{number}1"},
                    {"checkpointId": "2", "step": "10", "endpoint": endpoint},
                ],
            },
        )


def preference(question: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": "Short."}],
        "non_preferred_output": [{"role": "assistant", "content": "A long, winding answer."}],
    }


def test_the_sdk_trains_dpo_on_vertex_and_continues_from_a_checkpoint(
    sdk_as,  # noqa: F811 - fixture
    token_endpoint,  # noqa: F811 - fixture
    make_key,
):
    alice = sdk_as(make_key("alice"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        vertex = Vertex(rsps, token_endpoint.uri)
        data = alice.files.create(
            file=("prefs.jsonl", io.BytesIO(jsonl(preference("a?"), preference("b?")))),
            purpose="fine-tune",
        )
        first = alice.fine_tuning.jobs.create(
            model="gemini-2.5-flash",
            training_file=data.id,
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
        )
        assert first.method.type == "dpo" and first.method.dpo.hyperparameters.beta == 0.1
        spec = vertex.created[0]["preferenceOptimizationSpec"]
        assert "/gemini-preference/" in spec["trainingDatasetUri"]

        vertex.succeed(f"{BASE}/tuningJobs/1", 1)
        done = alice.fine_tuning.jobs.retrieve(first.id)
        assert (done.status, done.fine_tuned_model) == ("succeeded", f"{BASE}/endpoints/10")
        alice.fine_tuning.jobs.retrieve(first.id)  # a second refresh adds no event
        messages = [(e.level, e.message) for e in alice.fine_tuning.jobs.list_events(first.id)]
        assert messages[:2] == [
            (
                "warn",
                "Vertex AI truncated or dropped 1 example of the training dataset "
                "(example 2: Too long.).",
            ),
            (
                "info",
                "Vertex AI read the training dataset: 2 examples, 64 billable tokens per epoch.",
            ),
        ]

        checkpoints = alice.fine_tuning.jobs.checkpoints.list(first.id).data
        assert [c.step_number for c in checkpoints] == [10, 5]
        earliest = checkpoints[-1].fine_tuned_model_checkpoint
        second = alice.fine_tuning.jobs.create(
            model=earliest,
            training_file=data.id,
            method={"type": "dpo"},
            suffix="more",
        )
        assert vertex.created[1]["preTunedModel"] == {
            "tunedModelName": f"{BASE}/models/1@1",
            "checkpointId": "1",
        }
        assert "baseModel" not in vertex.created[1]
        assert second.model == earliest
        assert alice.fine_tuning.jobs.retrieve(second.id).model == earliest

        bob = sdk_as(make_key("bob"))
        bob_data = bob.files.create(
            file=("prefs.jsonl", io.BytesIO(jsonl(preference("c?")))), purpose="fine-tune"
        )
        with pytest.raises(openai.BadRequestError) as caught:
            bob.fine_tuning.jobs.create(
                model=earliest, training_file=bob_data.id, method={"type": "dpo"}
            )
        assert (caught.value.param, caught.value.code) == ("model", "model_not_found")
        assert len(vertex.created) == 2
