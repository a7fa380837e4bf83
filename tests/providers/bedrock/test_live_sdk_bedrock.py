"""The real ``openai`` SDK against the running gateway: a file uploaded to
the sandbox trains on Bedrock (the gateway copies it to S3 and converts it),
and the job is followed to ``succeeded``. moto's server plays S3 and
Bedrock; botocore finds it through ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import io
import json

import openai
import pytest

from ftproxy.models import FineTuningJob
from tests.conftest import MASTER_KEY, TRAINING

from .helpers import BUCKET, NOVA, OUTPUT, ROLE, SECRET, read_object
from .moto_aws import backend, iso, model_arn_of, set_job, stages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_as(aws, live_server, gateway_config, sandbox_entry, monkeypatch):
    """Sandbox and Bedrock entries (the secret read from the environment);
    makes SDK clients speaking as a key."""
    monkeypatch.setenv("BEDROCK_SECRET", SECRET)
    bedrock = {
        "custom_llm_provider": "bedrock",
        "aws_region_name": "us-east-1",
        "aws_access_key_id": "AKIATESTBEDROCK00001",
        "aws_secret_access_key": "os.environ/BEDROCK_SECRET",
        "role_arn": ROLE,
        "s3_bucket": BUCKET,
        "s3_prefix": "gateway",
        "output_s3_uri": OUTPUT,
        "max_retries": 0,
    }
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, bedrock],
            "files_settings": [sandbox_entry, bedrock],
        }
    )
    clients: list[openai.OpenAI] = []

    def connect(key: str) -> openai.OpenAI:
        client = openai.OpenAI(api_key=key, base_url=f"{live_server.url}/v1", max_retries=0)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()  # end keep-alive connections before the live server stops


def test_a_sandbox_file_trains_on_bedrock_and_is_followed_to_succeeded(aws, sdk_as, make_key):
    sdk = sdk_as(make_key("alice"))
    uploaded = sdk.files.create(
        file=("train.jsonl", io.BytesIO(TRAINING)),
        purpose="fine-tune",
        extra_body={"custom_llm_provider": "sandbox"},
    )
    job = sdk.fine_tuning.jobs.create(
        model=NOVA,
        training_file=uploaded.id,
        suffix="support-bot",
        hyperparameters={"n_epochs": 2},
        metadata={"team": "support"},
        extra_body={"custom_llm_provider": "bedrock"},
    )
    assert job.status == "validating_files" and job.training_file == uploaded.id
    assert job.hyperparameters.n_epochs == 2 and job.metadata == {"team": "support"}

    row = FineTuningJob.objects.get(public_id=job.id)
    sent = backend().model_customization_jobs[job.id]  # the job's name is the gateway's id
    assert row.remote_id == sent.job_arn and sent.client_request_token == job.id
    assert sent.hyper_parameters == {"epochCount": "2"}
    # The sandbox's bytes were copied to S3, and a converted copy trains.
    uri = sent.training_data_config["s3Uri"]
    assert uri.startswith(f"s3://{BUCKET}/gateway/ftproxy/")
    assert read_object(aws, uri.replace("/bedrock-conversation-2024", "")) == TRAINING
    first = json.loads(read_object(aws, uri).splitlines()[0])
    assert first["schemaVersion"] == "bedrock-conversation-2024"
    assert first["messages"][0]["role"] == "user"

    set_job(
        row.remote_id, "InProgress", statusDetails=stages("Completed", "Completed", "InProgress")
    )
    assert sdk.fine_tuning.jobs.retrieve(job.id).status == "running"
    set_job(
        row.remote_id,
        "Completed",
        statusDetails=stages("Completed", "Completed", "Completed"),
        endTime=iso(1_800_003_000),
        trainingMetrics={"trainingLoss": 0.125},
    )
    done = sdk.fine_tuning.jobs.retrieve(job.id)
    assert (done.status, done.fine_tuned_model) == ("succeeded", model_arn_of(sent))
    assert done.finished_at == 1_800_003_000
    events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=20))
    assert "Training loss: 0.125." in [event.message for event in events]

    listed = sdk.fine_tuning.jobs.list()
    assert [j.id for j in listed.data] == [job.id]
    assert SECRET not in json.dumps(row.provider_payload or {})


def test_another_keys_bedrock_job_and_file_are_404(aws, sdk_as, make_key):
    alice, bob = sdk_as(make_key("alice")), sdk_as(make_key("bob"))
    uploaded = alice.files.create(
        file=("train.jsonl", io.BytesIO(TRAINING)),
        purpose="fine-tune",
        extra_body={"custom_llm_provider": "bedrock"},
    )
    job = alice.fine_tuning.jobs.create(
        model=NOVA, training_file=uploaded.id, extra_body={"custom_llm_provider": "bedrock"}
    )
    calls = [
        lambda: bob.files.retrieve(uploaded.id),
        lambda: bob.files.content(uploaded.id),
        lambda: bob.files.delete(uploaded.id),
        lambda: bob.fine_tuning.jobs.retrieve(job.id),
        lambda: bob.fine_tuning.jobs.cancel(job.id),
        lambda: list(bob.fine_tuning.jobs.list_events(job.id)),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError) as refused:  # as on every entry: a 400
        bob.fine_tuning.jobs.create(
            model=NOVA, training_file=uploaded.id, extra_body={"custom_llm_provider": "bedrock"}
        )
    assert refused.value.body["param"] == "training_file"
    assert backend().model_customization_jobs[job.id].status == "InProgress"  # not cancelled
    assert len(backend().model_customization_jobs) == 1
    # The master key sees it; its owner reads, cancels and deletes.
    assert sdk_as(MASTER_KEY).fine_tuning.jobs.retrieve(job.id).id == job.id
    assert alice.files.content(uploaded.id).read() == TRAINING  # streamed back from S3
    assert alice.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert backend().model_customization_jobs[job.id].status == "Stopped"
    assert alice.files.delete(uploaded.id).deleted
