"""Bedrock jobs: what CreateModelCustomizationJob receives, conversions per
base model, statuses, events, the reconciling lookup and mapped errors."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from ftproxy.errors import (
    ConversionError,
    ProviderAuthError,
    ProviderInputError,
    ProviderNotFound,
    ProviderNotSupported,
    ProviderRateLimited,
)
from ftproxy.providers.gateway_id import GATEWAY_ID_KEY

from .helpers import HAIKU, NOVA, OUTPUT, ROLE, TITAN, chat, jsonl, new_job, provider, read_object
from .helpers import upload as put
from .moto_aws import Front, backend, iso, model_arn_of, set_job, stages

GATEWAY_ID = "ftjob-00000000000000000000000a"
SINGLE = chat(("user", "Hi"), ("assistant", "Hello."), system="Be brief.")
MULTI = chat(("user", "Hi"), ("assistant", "Hello."), ("user", "Bye"), ("assistant", "Bye."))


def created(bedrock, data: bytes, **fields):
    return new_job(bedrock, put(bedrock, data).remote_id, **fields)


def sent(name: str = GATEWAY_ID):
    """The job as moto recorded the create."""
    return backend().model_customization_jobs[name]


def test_the_create_names_the_job_by_the_gateway_id_and_tags_it(aws):
    bedrock = provider(kms_key_id="alias/tuning")
    job = created(
        bedrock,
        jsonl(SINGLE),
        suffix="support-bot",
        hyperparameters={"n_epochs": 2, "learning_rate": 0.00002},
        metadata={"team": "support"},
    )
    job_sent = sent()
    assert job.remote_id == job_sent.job_arn and job.status == "validating_files"
    assert (job_sent.job_name, job_sent.client_request_token) == (GATEWAY_ID, GATEWAY_ID)
    assert job_sent.custom_model_name == "support-bot-00000000000000000000000a"
    assert (job_sent.role_arn, job_sent.base_model_identifier) == (ROLE, NOVA)
    assert job_sent.customization_type == "FINE_TUNING"
    assert job_sent.hyper_parameters == {"epochCount": "2", "learningRate": "2e-05"}
    assert job_sent.output_data_config == {"s3Uri": OUTPUT}
    assert job_sent.custom_model_kms_key_id == "alias/tuning"
    assert {"key": GATEWAY_ID_KEY, "value": GATEWAY_ID} in job_sent.job_tags
    assert {"key": "team", "value": "support"} in job_sent.job_tags
    # The job trains on the converted copy; the job names the user's file.
    uri = job_sent.training_data_config["s3Uri"]
    assert uri.endswith("/ftproxy/file-0001/bedrock-conversation-2024/train.jsonl")
    assert job.training_file == uri.replace("/bedrock-conversation-2024", "")
    assert job.hyperparameters == {"n_epochs": 2, "learning_rate": 2e-05}


def test_chat_becomes_the_bedrock_conversation_schema(aws):
    created(provider(), jsonl(SINGLE, MULTI))
    lines = read_object(aws, sent().training_data_config["s3Uri"]).splitlines()
    assert json.loads(lines[0]) == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello."}]},
        ],
    }
    assert len(json.loads(lines[1])["messages"]) == 4  # Nova takes multi-turn


def test_titan_trains_on_prompt_completion_records(aws):
    created(provider(), jsonl(chat(("user", "Hi"), ("assistant", "Hello."))), model=TITAN)
    assert json.loads(read_object(aws, sent().training_data_config["s3Uri"])) == {
        "prompt": "Hi",
        "completion": "Hello.",
    }


@pytest.mark.parametrize(
    ("model", "records", "line", "words"),
    [
        (HAIKU, [SINGLE, MULTI], 2, "single-turn"),
        (TITAN, [SINGLE], 1, "system prompt"),
        (NOVA, [SINGLE, {"messages": [{"role": "user", "content": "Hi"}]}], 2, "last message"),
        (NOVA, [chat(("user", "Hi"), ("tool", "x"), ("assistant", "y"))], 1, "plain text"),
        (
            NOVA,
            [
                {
                    "messages": [
                        {"role": "user", "content": "Hi", "name": "ann"},
                        {"role": "assistant", "content": "Hey"},
                    ]
                }
            ],
            1,
            "name",
        ),  # fmt: skip
        (
            NOVA,
            [
                {
                    "messages": [
                        {"role": "user", "content": [{"type": "image_url"}]},
                        {"role": "assistant", "content": "A cat"},
                    ]
                }
            ],
            1,
            "image_url",
        ),  # fmt: skip
    ],
)
def test_what_the_format_cannot_express_is_a_400_naming_the_line(aws, model, records, line, words):
    bedrock = provider()
    with pytest.raises(ConversionError) as caught:
        created(bedrock, jsonl(*records), model=model)
    assert caught.value.status_code == 400 and caught.value.line == line
    assert f"Line {line}:" in caught.value.message and words in caught.value.message
    assert not backend().model_customization_jobs  # nothing was created


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "meta.llama3-1-8b-instruct-v1:0:128k"}, "model"),
        ({"hyperparameters": {"batch_size": 8}}, "hyperparameters.batch_size"),  # not on Nova
        ({"hyperparameters": {"n_epochs": 9}}, "hyperparameters.n_epochs"),  # Nova: 1 to 5
        ({"suffix": "has spaces"}, "suffix"),
        ({"seed": 7}, "seed"),
        ({"metadata": {"ftproxy_job_id": "x"}}, "metadata"),
        ({"metadata": {"note": "no <html>"}}, "metadata.note"),
        (
            {
                "hyperparameters": {"n_epochs": 2},
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"n_epochs": 3}},
                },
            },
            "method.supervised.hyperparameters.n_epochs",
        ),
    ],
)
def test_what_bedrock_cannot_take_is_a_400_before_any_call(fields, param):
    bedrock = provider(aws_endpoint_url="http://127.0.0.1:9")  # nothing listens there
    from ftproxy.providers.data import JobCreate

    job = JobCreate(**{"model": NOVA, "training_file": "s3://b/k", **fields})
    with pytest.raises(ProviderInputError) as caught:
        bedrock.check_job(job)
    assert caught.value.status_code == 400 and caught.value.param == param


def test_other_training_methods_are_a_400():
    from ftproxy.providers.data import JobCreate

    with pytest.raises(ProviderNotSupported) as caught:
        provider().check_job(JobCreate(NOVA, "s3://b/k", method={"type": "dpo"}))
    assert caught.value.status_code == 400 and "dpo" in caught.value.message


def test_claude_takes_openais_learning_rate_multiplier_and_batch_size(aws):
    created(
        provider(),
        jsonl(SINGLE),
        model=HAIKU,
        hyperparameters={"batch_size": 8, "learning_rate_multiplier": 1.5, "n_epochs": "auto"},
    )
    assert sent().hyper_parameters == {"batchSize": "8", "learningRateMultiplier": "1.5"}


def test_a_validation_file_is_converted_and_sent_as_a_validator(aws):
    bedrock = provider()
    training = put(bedrock, jsonl(SINGLE)).remote_id
    validation = put(bedrock, jsonl(SINGLE), gateway_id="file-0002").remote_id
    new_job(bedrock, training, validation_file=validation)
    (validator,) = sent().validation_data_config["validators"]
    assert validator["s3Uri"].endswith("/file-0002/bedrock-conversation-2024/train.jsonl")


def test_statuses_follow_the_stage_bedrock_is_in(aws):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    assert job.status == "validating_files"  # a new job validates its data first
    # Without statusDetails (documented for distillation jobs) InProgress is running.
    assert bedrock.retrieve_job(job.remote_id).status == "running"
    set_job(job.remote_id, "InProgress", statusDetails=stages("InProgress"))
    assert bedrock.retrieve_job(job.remote_id).status == "validating_files"
    set_job(
        job.remote_id, "InProgress", statusDetails=stages("Completed", "Completed", "InProgress")
    )
    assert bedrock.retrieve_job(job.remote_id).status == "running"
    set_job(job.remote_id, "Completed", endTime=iso(1_800_003_000))
    done = bedrock.retrieve_job(job.remote_id)
    assert (done.status, done.terminal, done.finished_at) == ("succeeded", True, 1_800_003_000)
    assert done.fine_tuned_model == model_arn_of(sent())


def test_a_failed_job_carries_bedrocks_failure_message(aws):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    set_job(job.remote_id, "Failed", failureMessage="Training data is malformed at line 3.")
    failed = bedrock.retrieve_job(job.remote_id)
    assert (failed.status, failed.fine_tuned_model) == ("failed", None)
    assert failed.error["message"] == "Training data is malformed at line 3."


def test_events_are_the_stages_and_metrics_once_each_newest_first(aws):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    set_job(
        job.remote_id,
        "Completed",
        statusDetails=stages("Completed", "Completed", "Completed"),
        endTime=iso(1_800_003_000),
        trainingMetrics={"trainingLoss": 0.25},
        validationMetrics=[{"validationLoss": 0.5}],
    )
    page = bedrock.list_job_events(job.remote_id, None, 100)
    ids = [event.id for event in page.items]
    assert len(ids) == len(set(ids)) == 8
    assert ids[-1] == "validationDetails-started"
    assert {"metrics-training", "metrics-validation-0", "trainingDetails-completed"} <= set(ids)
    times = [event.created_at for event in page.items]
    assert times == sorted(times, reverse=True)
    loss = next(e for e in page.items if e.id == "metrics-training")
    assert (loss.type, loss.data) == ("metrics", {"train_loss": 0.25})
    second = bedrock.list_job_events(job.remote_id, ids[1], 2)
    assert [e.id for e in second.items] == ids[2:4] and second.has_more


def test_a_killed_create_is_found_by_the_gateway_id(aws):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    assert bedrock.find_job(GATEWAY_ID).remote_id == job.remote_id
    assert bedrock.find_job("ftjob-00000000000000000000000b") is None


def test_a_job_named_alike_but_without_the_tag_is_not_ours(aws):
    bedrock = provider()
    created(bedrock, jsonl(SINGLE))
    backend().untag_resource(sent().job_arn, [GATEWAY_ID_KEY])
    assert bedrock.find_job(GATEWAY_ID) is None


def test_cancel_stops_the_job(aws):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    assert bedrock.cancel_job(job.remote_id).status == "cancelled"
    assert sent().status == "Stopped"


def test_a_second_create_with_one_name_is_bedrocks_400(aws):
    bedrock = provider()
    created(bedrock, jsonl(SINGLE))
    with pytest.raises(ProviderInputError) as caught:
        created(bedrock, jsonl(SINGLE))
    assert caught.value.status_code == 400 and "already exists" in caught.value.message


@pytest.fixture
def front(aws, monkeypatch):
    front = Front(aws, read_delay=1)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", front.url)
    yield front
    front.stop()


def job_path(front: Front, arn: str) -> str:
    return f"{front.url}/model-customization-jobs/{quote(arn, safe='')}"


def test_access_denied_is_a_403_naming_the_entry(front):
    bedrock = provider()
    job = created(bedrock, jsonl(SINGLE))
    body = {"__type": "AccessDeniedException", "message": "User is not authorized"}
    front.add("GET", job_path(front, job.remote_id), json=body, status=403)
    with pytest.raises(ProviderAuthError) as caught:
        bedrock.retrieve_job(job.remote_id)
    assert caught.value.status_code == 403 and "'bedrock'" in caught.value.message


def test_throttling_is_retried_by_botocore_then_passed_on_as_429(front):
    bedrock = provider(max_retries=1)
    job = created(bedrock, jsonl(SINGLE))
    body = {"__type": "ThrottlingException", "message": "Too many requests"}
    throttled = front.add("GET", job_path(front, job.remote_id), json=body, status=429)
    with pytest.raises(ProviderRateLimited) as caught:
        bedrock.retrieve_job(job.remote_id)
    assert caught.value.status_code == 429 and throttled.call_count == 2


def test_a_create_is_sent_once_even_when_throttled(front):
    bedrock = provider(max_retries=2)
    body = {"__type": "ThrottlingException", "message": "Too many requests"}
    throttled = front.add("POST", f"{front.url}/model-customization-jobs", json=body, status=429)
    with pytest.raises(ProviderRateLimited):
        created(bedrock, jsonl(SINGLE))
    assert throttled.call_count == 1


def test_cancelling_a_job_bedrock_does_not_know_is_404(aws):
    missing = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/ftjob-gone"
    with pytest.raises(ProviderNotFound):
        provider().cancel_job(missing)


def test_a_training_file_that_is_gone_is_404_and_nothing_is_created(aws):
    with pytest.raises(ProviderNotFound):
        new_job(provider(), "s3://train-data/team-a/ftproxy/file-gone/train.jsonl")
    assert not backend().model_customization_jobs
