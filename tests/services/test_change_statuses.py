"""``change_statuses``: many answers recorded at once (the sync's batches),
with ``change_status``'s guarantees for each job and a fixed number of
queries per batch."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ftproxy.models import FineTuningJob, JobEvent
from ftproxy.providers.data import RemoteJob
from ftproxy.services.ledger import status
from ftproxy.services.ledger.status import change_statuses
from ftproxy.signals import job_status_changed
from tests.factories import FINAL, ledger_job

pytestmark = pytest.mark.django_db


def answer(job_id: str, status: str, **fields: Any) -> RemoteJob:
    return RemoteJob(
        remote_id=job_id,
        model="gpt-4o-mini-2024-07-18",
        status=status,
        raw_status=status,
        created_at=1_700_000_000,
        terminal=status in FINAL,
        training_file="file-train",
        raw={"id": job_id, "status": status},
        **fields,
    )


def jobs(count: int, status: str = "running") -> list[FineTuningJob]:
    return [ledger_job(f"ftjob-{i:02d}", status) for i in range(count)]


def test_new_fields_of_many_jobs_are_written_in_a_fixed_number_of_queries(
    django_assert_num_queries,
):
    loaded = jobs(20)
    answers = [
        (job, answer(job.public_id, "running", trained_tokens=i)) for i, job in enumerate(loaded)
    ]
    # The test's transaction makes the batch's one a savepoint: SAVEPOINT, the
    # lock, one UPDATE for all 20 rows, RELEASE.
    with django_assert_num_queries(4) as queries:
        assert change_statuses(answers, source="sync") == [False] * 20
    assert sum(" SET " in query["sql"] for query in queries.captured_queries) == 1
    stored = dict(FineTuningJob.objects.values_list("public_id", "trained_tokens"))
    assert stored == {job.public_id: i for i, job in enumerate(loaded)}
    assert all(job.trained_tokens == i for i, job in enumerate(loaded))  # the callers' jobs too
    assert not JobEvent.objects.exists()


def test_each_status_change_of_a_batch_gets_its_event_and_signal_once(
    django_capture_on_commit_callbacks,
):
    loaded = jobs(5, "queued")
    received: list[tuple[str, str, str]] = []

    def receiver(*, job, old_status, new_status, **kwargs):
        received.append((job.public_id, old_status, new_status))

    answers = [
        (job, answer(job.public_id, "running" if i % 2 else "queued"))
        for i, job in enumerate(loaded)
    ]
    job_status_changed.connect(receiver, weak=False, dispatch_uid="test-change-statuses")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            changed = change_statuses(answers, source="sync")
            assert received == []  # not before commit
    finally:
        job_status_changed.disconnect(dispatch_uid="test-change-statuses")

    assert changed == [False, True, False, True, False]
    moved = {"ftjob-01", "ftjob-03"}
    assert sorted(received) == [(job_id, "queued", "running") for job_id in sorted(moved)]
    events = JobEvent.objects.values_list("job__public_id", "from_status", "to_status", "source")
    assert sorted(events) == [(job_id, "queued", "running", "sync") for job_id in sorted(moved)]
    assert {
        public_id
        for public_id, value in FineTuningJob.objects.values_list("public_id", "status")
        if value == "running"
    } == moved


def test_answers_that_change_nothing_take_no_lock_and_write_a_stale_synced_at_once(
    django_assert_num_queries,
):
    loaded = jobs(10)
    answers = [(job, answer(job.public_id, "running")) for job in loaded]
    change_statuses(answers, source="sync")  # the first answers fill the payload in
    fresh = list(FineTuningJob.objects.order_by("pk"))
    with django_assert_num_queries(0):
        change_statuses([(job, answer(job.public_id, "running")) for job in fresh], source="sync")
    FineTuningJob.objects.update(synced_at=timezone.now() - status.SYNCED_AT_RESOLUTION * 2)
    stale = list(FineTuningJob.objects.order_by("pk"))
    with django_assert_num_queries(1) as queries:
        change_statuses([(job, answer(job.public_id, "running")) for job in stale], source="sync")
    assert "FOR UPDATE" not in queries.captured_queries[0]["sql"]
    assert all(timezone.now() - job.synced_at < status.SYNCED_AT_RESOLUTION for job in stale)


def test_a_row_changed_since_it_was_loaded_is_compared_again_under_the_lock():
    [job] = jobs(1)
    # Another writer records a newer answer meanwhile (as change_status does: with ``updated``).
    FineTuningJob.objects.filter(pk=job.pk).update(
        fine_tuned_model="ft:gpt-4o-mini:org::x1", updated=timezone.now()
    )
    # This answer carries no model name: the row is made to mirror it, not the stale load.
    change_statuses([(job, answer(job.public_id, "running", trained_tokens=5))], source="sync")
    row = FineTuningJob.objects.get()
    assert (row.trained_tokens, row.fine_tuned_model) == (5, None)


def test_a_final_status_reached_since_loading_is_not_replaced_in_a_batch():
    first, second = jobs(2, "running")
    FineTuningJob.objects.filter(pk=first.pk).update(
        status="succeeded", raw_status="succeeded", terminal=True
    )
    changed = change_statuses(
        [(first, answer(first.public_id, "failed")), (second, answer(second.public_id, "failed"))],
        source="sync",
    )
    assert changed == [False, True]
    assert dict(FineTuningJob.objects.values_list("public_id", "status")) == {
        first.public_id: "succeeded",
        second.public_id: "failed",
    }
    assert list(JobEvent.objects.values_list("job__public_id", flat=True)) == [second.public_id]


def test_a_batch_that_fails_is_rolled_back_whole_and_leaves_the_jobs_as_loaded(monkeypatch):
    loaded = jobs(3, "queued")
    last = loaded[2].pk

    def broken(execute, sql, params, many, context):  # the event of the last job's change
        if sql.startswith("INSERT") and "ftproxy_jobevent" in sql and last in (params or ()):
            raise RuntimeError("boom")
        return execute(sql, params, many, context)

    answers = [(job, answer(job.public_id, "running", trained_tokens=7)) for job in loaded]
    with connection.execute_wrapper(broken), pytest.raises(RuntimeError):
        change_statuses(answers, source="sync")

    assert set(FineTuningJob.objects.values_list("status", flat=True)) == {"queued"}
    assert not JobEvent.objects.exists()
    assert [(job.status, job.trained_tokens) for job in loaded] == [("queued", None)] * 3


def test_a_job_gone_from_the_ledger_fails_its_batch():
    loaded = jobs(2, "queued")
    FineTuningJob.objects.filter(pk=loaded[1].pk).delete()
    with pytest.raises(FineTuningJob.DoesNotExist):
        change_statuses([(job, answer(job.public_id, "running")) for job in loaded], source="sync")
