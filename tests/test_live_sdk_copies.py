"""The real ``openai`` SDK against the running gateway: a file uploaded to
OpenAI trains on Vertex AI (the gateway copies it there first), the job's
checkpoints list, and a new job continues from one of them. The upstreams
are played by ``responses``; the SDK speaks to the live server for real."""

from __future__ import annotations

import io
import json

import openai
import pytest
import responses

from ftproxy.models import File
from tests.conftest import TRAINING
from tests.providers.vertex.helpers import JOB_NAME, PROJECT, tuning_job
from tests.services.cross_provider import GEMINI, Upstreams, entries

pytestmark = pytest.mark.django_db(transaction=True)

#: The first tuning job the fake Vertex creates (see ``Upstreams``).
FIRST_JOB = f"{JOB_NAME[: JOB_NAME.rindex('/')]}/1"
FIRST_JOB_URL = f"https://us-central1-aiplatform.googleapis.com/v1/{FIRST_JOB}"
ENDPOINT = f"projects/{PROJECT}/locations/us-central1/endpoints"


@pytest.fixture
def sdk(live_server, gateway_config, make_key):
    gateway_config(entries())
    client = openai.OpenAI(
        api_key=make_key("alice"), base_url=f"{live_server.url}/v1", max_retries=0
    )
    yield client
    client.close()  # end keep-alive connections before the live server stops


def succeeded_with_checkpoints(request):
    job = tuning_job(
        "JOB_STATE_SUCCEEDED",
        name=FIRST_JOB,
        endTime="2025-03-01T11:00:00Z",
        tunedModel={
            "model": f"projects/{PROJECT}/locations/us-central1/models/9",
            "endpoint": f"{ENDPOINT}/90",
            "checkpoints": [
                {"checkpointId": "1", "epoch": "1", "step": "5", "endpoint": f"{ENDPOINT}/91"},
                {"checkpointId": "2", "epoch": "2", "step": "10", "endpoint": f"{ENDPOINT}/90"},
            ],
        },
    )
    return 200, {}, json.dumps(job)


def test_the_sdk_uploads_to_openai_trains_on_vertex_lists_checkpoints_and_continues_from_one(
    sdk, live_server
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(live_server.url)
        upstreams = Upstreams(rsps)
        rsps.add_callback(responses.GET, FIRST_JOB_URL, callback=succeeded_with_checkpoints)

        uploaded = sdk.files.create(
            file=("train.jsonl", io.BytesIO(TRAINING)),
            purpose="fine-tune",
            extra_body={"custom_llm_provider": "openai"},
        )
        assert uploaded.id == "file-up-1"

        job = sdk.fine_tuning.jobs.create(
            model=GEMINI,
            training_file=uploaded.id,
            suffix="moved",
            extra_body={"custom_llm_provider": "vertex_ai"},
        )
        assert job.id.startswith("ftjob-") and job.training_file == uploaded.id
        copy = File.objects.get(copied_from__public_id=uploaded.id)
        assert copy.provider == "vertex_ai" and copy.remote_id.endswith("/gemini/train.jsonl")
        assert upstreams.gcs_puts[0] == TRAINING
        assert upstreams.tuning_jobs[0]["supervisedTuningSpec"]["trainingDatasetUri"] == (
            copy.remote_id
        )

        events = sdk.fine_tuning.jobs.list_events(job.id).data
        assert any(
            e.data["source"] == "copy" and "copied it to 'vertex_ai'" in e.message for e in events
        )

        done = sdk.fine_tuning.jobs.retrieve(job.id)
        assert (done.status, done.fine_tuned_model) == ("succeeded", f"{ENDPOINT}/90")
        assert done.training_file == uploaded.id

        checkpoints = sdk.fine_tuning.jobs.checkpoints.list(job.id).data

        # Continue tuning from the earlier checkpoint, on the same (copied) file.
        continued = sdk.fine_tuning.jobs.create(
            model=checkpoints[1].fine_tuned_model_checkpoint,
            training_file=uploaded.id,
            extra_body={"custom_llm_provider": "vertex_ai"},
        )
    assert continued.id != job.id and continued.training_file == uploaded.id
    second = upstreams.tuning_jobs[1]
    assert "baseModel" not in second
    assert second["preTunedModel"] == {
        "tunedModelName": f"projects/{PROJECT}/locations/us-central1/models/9",
        "checkpointId": "1",
    }
    assert second["supervisedTuningSpec"]["trainingDatasetUri"] == copy.remote_id
    assert File.objects.filter(copied_from__public_id=uploaded.id).count() == 1  # reused
    assert [c.step_number for c in checkpoints] == [10, 5]
    assert [c.fine_tuned_model_checkpoint for c in checkpoints] == [
        f"{ENDPOINT}/90",
        f"{ENDPOINT}/91",
    ]
    assert all(c.fine_tuning_job_id == job.id for c in checkpoints)
