"""A create that reached Bedrock but whose answer never came back resolves
to one job: the row stays pending, and the sync (or a retry with the same
Idempotency-Key) finds the job by its name and tag and links it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from ftproxy.models import FineTuningJob, LedgerState
from tests.conftest import TRAINING
from tests.services.test_crash_consistency import time_passes

from .helpers import entry
from .moto_aws import Front, backend

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 4


@pytest.fixture
def front(aws, gateway_config, monkeypatch):
    front = Front(aws, read_delay=TIMEOUT + 1.5)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", front.url)
    bedrock = {k: v for k, v in entry(timeout=TIMEOUT).items() if k != "api"}
    gateway_config({"finetune_settings": [bedrock], "files_settings": [dict(bedrock)]})
    yield front
    front.stop()


def create(master, file_id: str, key: str):
    body = {"model": "amazon.nova-micro-v1:0:128k", "training_file": file_id}
    return master.post_json("/v1/fine_tuning/jobs", body, headers={"Idempotency-Key": key})


def test_a_create_whose_answer_was_lost_is_linked_to_the_one_job_by_the_sync(front, master):
    file_id = master.upload(TRAINING).json()["id"]
    front.forward_then_stall("POST", f"{front.url}/model-customization-jobs")
    lost = create(master, file_id, "k1")
    assert lost.status_code == 504
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.PENDING  # it may exist upstream: never "failed"
    (job,) = backend().model_customization_jobs.values()  # it does
    assert job.job_name == row.public_id

    time_passes()
    out = io.StringIO()
    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())
    assert "pending creates: linked=1 failed=0 flagged=0" in out.getvalue()
    row.refresh_from_db()
    assert (row.ledger_state, row.remote_id, row.status) == ("ok", job.job_arn, "running")
    again = create(master, file_id, "k1")  # the client's retry: the same job
    assert again.status_code == 200 and again.json()["id"] == row.public_id
    assert len(backend().model_customization_jobs) == 1
