"""``manage.py ftproxy_retrain`` onto a Bedrock entry: a sandbox job is
re-created on Bedrock, its file copied to S3 and converted there."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from ftproxy.models import File, FineTuningJob
from tests.conftest import TRAINING

from .helpers import NOVA, entry, read_object
from .moto_aws import backend

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(aws, gateway_config, sandbox_entry):
    bedrock = {k: v for k, v in entry().items() if k != "api"}
    gateway_config(
        {"finetune_settings": [sandbox_entry, bedrock], "files_settings": [sandbox_entry, bedrock]}
    )


def test_a_sandbox_job_is_retrained_on_bedrock(configured, aws, api_as, make_key):
    alice = api_as(make_key("alice"))
    file_id = alice.upload(TRAINING, extra={"custom_llm_provider": "sandbox"}).json()["id"]
    body = {
        "model": "gpt-4o-mini",
        "training_file": file_id,
        "hyperparameters": {"n_epochs": 3},
        "custom_llm_provider": "sandbox",
    }
    old = FineTuningJob.objects.get(
        public_id=alice.post_json("/v1/fine_tuning/jobs", body).json()["id"]
    )

    out = io.StringIO()
    call_command(
        "ftproxy_retrain", old.public_id, "--provider", "bedrock", "--model", NOVA, stdout=out
    )
    new = FineTuningJob.objects.get(public_id=out.getvalue().splitlines()[-1])
    assert (new.provider, new.retrained_from, new.owner) == ("bedrock", old, old.owner)
    sent = backend().model_customization_jobs[new.public_id]
    assert sent.hyper_parameters == {"epochCount": "3"}
    copy = File.objects.get(copied_from__public_id=file_id)
    assert read_object(aws, copy.remote_id) == TRAINING
    assert sent.training_data_config["s3Uri"].startswith(copy.remote_id.rsplit("/", 1)[0])
