"""The real ``openai`` SDK against the running gateway, on the sandbox."""

import io

import openai
import pytest

from tests.conftest import MASTER_KEY, TRAINING

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server, gateway_config, sandbox_entry):
    gateway_config(
        {
            "finetune_settings": [
                sandbox_entry,
                {**sandbox_entry, "name": "fast", "run_seconds": 0},
            ],
            "files_settings": [sandbox_entry],
        }
    )
    client = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{live_server.url}/v1", max_retries=0)
    yield client
    client.close()  # end keep-alive connections before the live server stops


def test_sdk_drives_every_files_and_fine_tuning_endpoint(sdk):
    uploaded = sdk.files.create(file=("train.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
    assert uploaded.id.startswith("file-")
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (
        len(TRAINING),
        "train.jsonl",
        "fine-tune",
    )

    job = sdk.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=uploaded.id,
        suffix="demo",
        seed=7,
        metadata={"team": "a"},
        extra_body={"custom_llm_provider": "sandbox"},
    )
    assert job.object == "fine_tuning.job"
    assert (job.training_file, job.seed, job.metadata) == (uploaded.id, 7, {"team": "a"})
    assert job.status == "running"

    more = [
        sdk.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=uploaded.id,
            extra_body={"custom_llm_provider": "sandbox"},
        ).id
        for _ in range(4)
    ]
    listed = [j.id for j in sdk.fine_tuning.jobs.list(limit=2)]  # auto-pagination
    assert listed == [*more[::-1], job.id]

    assert sdk.fine_tuning.jobs.retrieve(job.id).id == job.id
    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=2))
    assert events and all(e.object == "fine_tuning.job.event" for e in events)
    assert len({e.id for e in events}) == len(events)

    assert sdk.fine_tuning.jobs.pause(job.id).status == "paused"
    assert sdk.fine_tuning.jobs.resume(job.id).status in {"queued", "running"}
    cancelled = sdk.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"

    done = sdk.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=uploaded.id,
        suffix="fast",
        extra_body={"custom_llm_provider": "fast"},
    )
    done = sdk.fine_tuning.jobs.retrieve(done.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model and done.trained_tokens and done.finished_at
    checkpoints = list(sdk.fine_tuning.jobs.checkpoints.list(done.id, limit=1))
    assert checkpoints
    assert all(c.fine_tuning_job_id == done.id for c in checkpoints)
    assert len({c.id for c in checkpoints}) == len(checkpoints)

    assert sdk.files.content(uploaded.id).read() == TRAINING
    assert [f.id for f in sdk.files.list()] == [uploaded.id]
    assert sdk.files.delete(uploaded.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)


def test_sdk_auto_pagination_yields_each_file_once(sdk):
    ids = {
        sdk.files.create(file=(f"f{i}.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune").id
        for i in range(7)
    }
    listed = [f.id for f in sdk.files.list(limit=3)]
    assert len(listed) == 7 and set(listed) == ids


def test_sdk_raises_typed_errors_with_openai_fields(sdk, live_server):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.files.create(file=("bad.jsonl", io.BytesIO(b"nope\n")), purpose="fine-tune")
    assert caught.value.param == "file"
    assert "line 1" in caught.value.message
    with (
        openai.OpenAI(
            api_key="sk-wrong", base_url=f"{live_server.url}/v1", max_retries=0
        ) as anonymous,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        anonymous.files.list()
    assert caught.value.code == "invalid_api_key"
    assert caught.value.response.headers["x-request-id"]
