"""An answer that changes nothing takes no lock and writes (almost) nothing:
``synced_at`` only when it is older than ``SYNCED_AT_RESOLUTION``. The sync
still marks every job it fetched as synced, so a round always ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from ftproxy.models import FineTuningJob, JobEvent
from ftproxy.providers.data import RemoteJob
from ftproxy.services.jobs.sync import sync_jobs
from ftproxy.services.ledger.status import SYNCED_AT_RESOLUTION, change_status
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

PAYLOAD = {"id": "ftjob-1", "status": "running"}


def same_answer(**fields) -> RemoteJob:
    return RemoteJob(
        remote_id="ftjob-1",
        model="gpt-4o-mini-2024-07-18",
        status="running",
        raw_status="running",
        created_at=1_700_000_000,
        terminal=False,
        training_file="file-train",
        raw=PAYLOAD,
        **fields,
    )


def synced_job(ago: timedelta) -> FineTuningJob:
    return ledger_job("ftjob-1", provider_payload=PAYLOAD, synced_at=timezone.now() - ago)


def test_nothing_changed_and_freshly_synced_means_no_query(django_assert_num_queries):
    job = synced_job(timedelta(seconds=5))
    before = FineTuningJob.objects.get().synced_at
    with django_assert_num_queries(0):
        assert change_status(job, same_answer(), source="retrieve") is False
    assert FineTuningJob.objects.get().synced_at == before


def test_nothing_changed_but_stale_writes_synced_at_alone(django_assert_num_queries):
    job = synced_job(SYNCED_AT_RESOLUTION + timedelta(seconds=1))
    with django_assert_num_queries(1) as queries:
        assert change_status(job, same_answer(), source="retrieve") is False
    assert "FOR UPDATE" not in queries.captured_queries[0]["sql"]
    assert timezone.now() - FineTuningJob.objects.get().synced_at < timedelta(seconds=5)
    assert not JobEvent.objects.exists()


def test_a_changed_field_without_a_status_change_is_still_written():
    job = synced_job(timedelta(seconds=5))
    assert change_status(job, same_answer(trained_tokens=1234), source="retrieve") is False
    assert FineTuningJob.objects.get().trained_tokens == 1234
    assert not JobEvent.objects.exists()


def test_a_recorded_sync_error_is_cleared_by_the_next_answer():
    job = synced_job(timedelta(seconds=5))
    FineTuningJob.objects.update(sync_error="boom")
    job.refresh_from_db()
    change_status(job, same_answer(), source="sync")
    assert FineTuningJob.objects.get().sync_error == ""


def test_a_succeeded_job_seen_again_writes_nothing(django_assert_num_queries):
    payload = {"id": "ftjob-1", "status": "succeeded"}
    job = ledger_job(
        "ftjob-1",
        "succeeded",
        model="gpt-4.1-nano",
        provider_payload=payload,
        synced_at=timezone.now(),
        finished_at=2,
    )
    answer = RemoteJob(
        remote_id="ftjob-1",
        model="gpt-4.1-nano",
        status="succeeded",
        raw_status="succeeded",
        created_at=1_700_000_000,
        terminal=True,
        training_file="file-train",
        finished_at=2,
        trained_tokens=1_234_567,  # $1.8518505: more places than the column keeps
        raw=payload,
    )
    change_status(job, answer, source="retrieve")  # records tokens and cost
    job = FineTuningJob.objects.get()
    assert job.cost_usd is not None
    with django_assert_num_queries(0):
        change_status(job, answer, source="retrieve")


def test_a_sync_round_marks_freshly_synced_jobs_and_ends(gateway_config):
    gateway_config(
        {
            "finetune_settings": [
                {
                    "custom_llm_provider": "openai",
                    "api_key": "sk-up",
                    "api_base": "https://upstream.test/v1",
                    "max_retries": 0,
                }
            ]
        }
    )
    ledger_job("ftjob-1", provider_payload=PAYLOAD, synced_at=timezone.now())
    with responses.RequestsMock() as mocked:
        mocked.get("https://upstream.test/v1/fine_tuning/jobs/ftjob-1", json=PAYLOAD)
        started = timezone.now()
        result = sync_jobs()
        assert len(mocked.calls) == 1  # fetched once: the round did not loop on it
    assert (result.checked, result.failed) == (1, 0)
    assert FineTuningJob.objects.get().synced_at >= started
