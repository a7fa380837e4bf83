"""An answer older than the ledger's last recorded one is not written: a
sync batch fetched before an API retrieve recorded a newer status does not
put its older status back afterwards."""

from __future__ import annotations

import json

import pytest
import responses

from ftproxy.models import FineTuningJob, JobEvent
from ftproxy.services.jobs.sync import sync_jobs
from tests.factories import ledger_job
from tests.services.test_sync import UPSTREAM, Upstream, job_json, openai_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream(gateway_config):
    gateway_config({"finetune_settings": [openai_entry()]})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake = Upstream(mocked)
        fake.mocked = mocked
        yield fake


def test_a_sync_answer_fetched_before_a_retrieve_does_not_overwrite_it(upstream, master):
    job = ledger_job("ftjob-1", "validating_files")
    retrieved: list[str] = []
    calls: list[str] = []

    def retrieve_meanwhile(job_id: str) -> None:
        calls.append(job_id)
        if len(calls) > 1:  # the retrieve's own call
            return
        # The sync's call is under way (its answer says "queued"); an API
        # retrieve asks now, gets "running" and records it first.
        upstream.jobs = {"ftjob-1": "running"}
        retrieved.append(master.get("/v1/fine_tuning/jobs/ftjob-1").json()["status"])
        upstream.jobs = {"ftjob-1": "queued"}  # what the sync's older call answers

    upstream.on_get = retrieve_meanwhile
    upstream.jobs = {"ftjob-1": "queued"}

    result = sync_jobs()

    assert retrieved == ["running"]
    assert upstream.gets["ftjob-1"] == 2
    job.refresh_from_db()
    assert job.status == "running"
    assert result.changed == 0
    history = list(JobEvent.objects.order_by("id").values_list("from_status", "to_status"))
    assert history == [("validating_files", "running")]


def test_a_retrieve_fetched_before_a_sync_recorded_does_not_overwrite_it(upstream, master):
    job = ledger_job("ftjob-1", "validating_files")
    synced: list[int] = []
    calls: list[str] = []

    def sync_meanwhile(job_id: str) -> None:
        calls.append(job_id)
        if len(calls) > 1:  # the sync's own call
            return
        # The retrieve's call is under way (it answers "queued"); a sync
        # round fetches "running" and records it first.
        upstream.jobs = {"ftjob-1": "running"}
        synced.append(sync_jobs().changed)
        upstream.jobs = {"ftjob-1": "queued"}

    upstream.on_get = sync_meanwhile
    upstream.jobs = {"ftjob-1": "queued"}

    answer = master.get("/v1/fine_tuning/jobs/ftjob-1").json()

    assert synced == [1]
    assert answer["status"] == "running"  # the ledger's newer status, not the older answer
    job.refresh_from_db()
    assert job.status == "running"
    assert FineTuningJob.objects.get().status == "running"


def test_a_cancel_answered_after_a_sync_recorded_is_kept(upstream, master):
    ledger_job("ftjob-1", "queued")
    upstream.jobs = {"ftjob-1": "running"}

    def cancel(request):
        # The sync records "running" while the cancel is under way.
        assert sync_jobs().changed == 1
        upstream.jobs = {"ftjob-1": "cancelled"}
        return 200, {}, json.dumps(job_json("ftjob-1", "cancelled"))

    upstream.mocked.add_callback(
        responses.POST, f"{UPSTREAM}/fine_tuning/jobs/ftjob-1/cancel", callback=cancel
    )

    answer = master.post_json("/v1/fine_tuning/jobs/ftjob-1/cancel").json()

    assert answer["status"] == "cancelled"
    assert FineTuningJob.objects.get().status == "cancelled"
