"""``change_status``: the one path for status changes, its history, signal and cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from ftproxy.models import FineTuningJob, JobEvent, LedgerState
from ftproxy.providers.data import RemoteJob
from ftproxy.services.ledger.status import change_status
from ftproxy.signals import job_status_changed
from tests.factories import FINAL, ledger_job


def make_job(
    status: str = "running", model: str = "gpt-4o-mini-2024-07-18", **fields: Any
) -> FineTuningJob:
    return ledger_job("ftjob-1", status, model=model, **fields)


def remote(
    status: str, model: str = "gpt-4o-mini-2024-07-18", raw_status: str | None = None, **fields: Any
) -> RemoteJob:
    return RemoteJob(
        remote_id="ftjob-1",
        model=model,
        status=status,
        raw_status=raw_status or status,
        created_at=1_700_000_000,
        terminal=status in FINAL,
        **fields,
    )


@pytest.fixture
def received():
    seen: list[tuple[str, str, str]] = []

    def receiver(*, job, old_status, new_status, **kwargs):
        seen.append((job.public_id, old_status, new_status))

    job_status_changed.connect(receiver, weak=False, dispatch_uid="test-change-status")
    yield seen
    job_status_changed.disconnect(dispatch_uid="test-change-status")


# --------------------------------------------------------------------------
# History and signal
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_status_change_writes_one_event_and_sends_the_signal_once_on_commit(
    received, django_capture_on_commit_callbacks
):
    job = make_job("queued")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert change_status(job, remote("running"), source="sync") is True
    assert received == []  # nothing sent while the transaction is open

    for callback in callbacks:
        callback()

    assert received == [("ftjob-1", "queued", "running")]
    event = JobEvent.objects.get()
    assert (event.from_status, event.to_status, event.provider_status, event.source) == (
        "queued",
        "running",
        "running",
        "sync",
    )
    assert job.status == "running"  # the caller's instance is updated in place


@pytest.mark.django_db
def test_the_same_status_again_writes_no_event_and_sends_nothing(
    received, django_capture_on_commit_callbacks
):
    job = make_job("running")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert change_status(job, remote("running"), source="sync") is False
    assert callbacks == [] and received == []
    assert not JobEvent.objects.exists()
    job.refresh_from_db()
    assert job.synced_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_with_its_transaction_sends_no_signal(received):
    job = make_job("queued")
    with pytest.raises(RuntimeError), transaction.atomic():
        change_status(job, remote("running"), source="sync")
        raise RuntimeError("the caller's transaction fails")
    assert received == []
    assert not JobEvent.objects.exists()
    assert FineTuningJob.objects.get().status == "queued"


@pytest.mark.django_db
@pytest.mark.parametrize("final", FINAL)
def test_a_final_status_is_never_overwritten_by_a_stale_answer(final, received):
    job = make_job(final)
    assert change_status(job, remote("running"), source="sync") is False
    job.refresh_from_db()
    assert (job.status, job.raw_status, job.terminal) == (final, final, True)
    assert not JobEvent.objects.exists()


@pytest.mark.django_db
def test_a_stale_answer_does_not_replace_the_final_jobs_payload():
    job = make_job("succeeded", provider_payload={"status": "succeeded"})
    change_status(job, remote("running", raw={"status": "running"}), source="sync")
    job.refresh_from_db()
    assert job.provider_payload == {"status": "succeeded"}
    assert job.synced_at is not None


@pytest.mark.django_db
def test_a_final_status_is_not_replaced_by_another_final_status():
    job = make_job("cancelled")
    change_status(job, remote("succeeded", trained_tokens=10), source="sync")
    job.refresh_from_db()
    assert job.status == "cancelled" and job.cost_usd is None


# --------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_reaching_succeeded_records_the_cost_of_an_openai_job():
    job = make_job("running")
    change_status(job, remote("succeeded", trained_tokens=2_500_000), source="sync")
    job.refresh_from_db()
    assert job.cost_usd == Decimal("7.5")  # 2.5M × $3.00 / 1M


@pytest.mark.django_db
def test_reaching_succeeded_records_the_cost_of_a_vertex_job():
    # The Vertex provider turns Vertex's string int64 counts into an int.
    job = make_job(
        "running",
        model="gemini-2.5-flash",
        provider="vertex_ai",
        provider_kind="vertex_ai",
        raw_status="JOB_STATE_RUNNING",
    )
    change_status(
        job,
        remote(
            "succeeded",
            model="gemini-2.5-flash",
            raw_status="JOB_STATE_SUCCEEDED",
            trained_tokens=123_456,
        ),
        source="sync",
    )
    job.refresh_from_db()
    assert job.cost_usd == Decimal("0.61728")  # 123,456 × $5.00 / 1M


@pytest.mark.django_db
def test_a_job_on_an_unknown_model_gets_no_cost():
    job = make_job("running", model="mystery-model")
    change_status(
        job, remote("succeeded", model="mystery-model", trained_tokens=1000), source="sync"
    )
    job.refresh_from_db()
    assert job.status == "succeeded" and job.cost_usd is None


@pytest.mark.django_db
def test_a_job_without_trained_tokens_or_not_succeeded_gets_no_cost():
    job = make_job("running")
    change_status(job, remote("running", trained_tokens=5000), source="sync")
    change_status(job, remote("failed", trained_tokens=5000), source="sync")
    job.refresh_from_db()
    assert job.cost_usd is None

    other = FineTuningJob.objects.create(
        public_id="ftjob-2",
        remote_id="ftjob-2",
        provider="openai",
        provider_kind="openai",
        model="gpt-4o",
        status="running",
        created_at=1,
        ledger_state=LedgerState.OK,
    )
    change_status(
        other,
        RemoteJob(
            remote_id="ftjob-2",
            model="gpt-4o",
            status="succeeded",
            raw_status="succeeded",
            created_at=1,
            terminal=True,
        ),
        source="sync",
    )
    other.refresh_from_db()
    assert other.status == "succeeded" and other.cost_usd is None


@pytest.mark.django_db
def test_the_cost_uses_a_configured_price(gateway_config):
    gateway_config({"ftproxy_settings": {"fine_tuning_pricing": {"gpt-4o-mini": 1}}})
    job = make_job("running")
    change_status(job, remote("succeeded", trained_tokens=4_000_000), source="sync")
    job.refresh_from_db()
    assert job.cost_usd == Decimal("4")
