"""Job status sync: ``sync_jobs`` and the ``ftproxy_sync_jobs`` command.

The upstream is OpenAI's API mocked at the HTTP boundary with ``responses``;
the ledger rows are made directly. Tests that need real row locking (two
workers at once) run on PostgreSQL only.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from ftproxy.conf import FINE_TUNING, gateway
from ftproxy.models import FineTuningJob, JobEvent, LedgerState
from ftproxy.services.jobs.sync import row_locking_supported, sync_jobs
from ftproxy.signals import job_status_changed
from tests.factories import ledger_job

UPSTREAM = "https://upstream.test/v1"
JOB_URL = re.compile(re.escape(UPSTREAM) + r"/fine_tuning/jobs/([^/?]+)$")


def openai_entry(name: str = "openai", api_base: str = UPSTREAM) -> dict[str, Any]:
    return {
        "custom_llm_provider": "openai",
        "name": name,
        "api_key": "sk-upstream",
        "api_base": api_base,
        "max_retries": 0,
    }


@pytest.fixture
def openai_gateway(gateway_config):
    return gateway_config({"finetune_settings": [openai_entry()]})


def make_job(public_id: str, status: str = "queued", **fields: Any) -> FineTuningJob:
    return ledger_job(public_id, status, **fields)


class Upstream:
    """A mocked OpenAI: ``GET /fine_tuning/jobs/{id}`` answers from
    ``self.jobs`` (id → status or (status, extra fields), or an int HTTP
    error status) and counts the GETs per job id."""

    def __init__(self, mocked: responses.RequestsMock, delay: float = 0.0):
        self.jobs: dict[str, Any] = {}
        self.gets: Counter[str] = Counter()
        self.delay = delay
        self.on_get: Any = None
        self._lock = threading.Lock()
        mocked.add_callback(responses.GET, JOB_URL, callback=self._answer)

    def _answer(self, request) -> tuple[int, dict[str, str], str]:
        job_id = JOB_URL.match(request.url)[1]
        with self._lock:
            self.gets[job_id] += 1
        if self.delay:
            time.sleep(self.delay)
        if self.on_get is not None:
            self.on_get(job_id)
        answer = self.jobs.get(job_id, 404)
        if isinstance(answer, int):
            body = {
                "error": {
                    "message": f"upstream says {answer}",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            return answer, {}, json.dumps(body)
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        return 200, {}, json.dumps(job_json(job_id, status, **extra))


def job_json(job_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1_700_000_000,
        "finished_at": None,
        "fine_tuned_model": None,
        "organization_id": "org-1",
        "result_files": [],
        "status": status,
        "validation_file": None,
        "training_file": "file-train",
        "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2},
        "trained_tokens": None,
        "error": None,
        "seed": 7,
        **extra,
    }


@pytest.fixture
def upstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield Upstream(mocked)


@pytest.fixture
def needs_row_locking():
    if not row_locking_supported():
        pytest.skip("needs SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL); SQLite has no row locks")


def run_workers(count: int, **kwargs: Any) -> list[Any]:
    """Run ``sync_jobs`` in ``count`` threads started together, each with its
    own database connection; return their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            results[index] = sync_jobs(**kwargs)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


# --------------------------------------------------------------------------
# Several workers at once (PostgreSQL)
# --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_fetch_each_job_once_per_round_and_record_each_change_once(
    needs_row_locking, openai_gateway
):
    ids = [f"ftjob-{i:02d}" for i in range(40)]
    for job_id in ids:
        make_job(job_id, "queued")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        upstream = Upstream(mocked, delay=0.005)
        upstream.jobs = dict.fromkeys(ids, "running")

        first = run_workers(2, older_than=3600, batch_size=5)

        assert upstream.gets == Counter(dict.fromkeys(ids, 1))
        assert sum(r.checked for r in first) == 40 and sum(r.changed for r in first) == 40
        assert all(r.checked > 0 for r in first), "both workers should have taken a share"

        # A later round: time has passed, and every job has finished.
        FineTuningJob.objects.update(synced_at=timezone.now() - timedelta(hours=2))
        upstream.jobs = {job_id: ("succeeded", {"trained_tokens": 1_000_000}) for job_id in ids}

        second = run_workers(2, older_than=3600, batch_size=5)

    assert upstream.gets == Counter(dict.fromkeys(ids, 2))
    assert sum(r.changed for r in second) == 40
    events = Counter(JobEvent.objects.values_list("job__public_id", "to_status"))
    assert events == Counter(
        {**{(i, "running"): 1 for i in ids}, **{(i, "succeeded"): 1 for i in ids}}
    )
    assert set(JobEvent.objects.values_list("source", flat=True)) == {"sync"}
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()
    assert set(FineTuningJob.objects.values_list("cost_usd", flat=True)) == {Decimal("3")}


@pytest.mark.django_db(transaction=True)
def test_several_threads_of_one_worker_fetch_each_job_once(needs_row_locking, openai_gateway):
    ids = [f"ftjob-{i:02d}" for i in range(25)]
    for job_id in ids:
        make_job(job_id, "validating_files")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        upstream = Upstream(mocked, delay=0.002)
        upstream.jobs = dict.fromkeys(ids, "queued")
        result = sync_jobs(workers=4, batch_size=6)
    assert upstream.gets == Counter(dict.fromkeys(ids, 1))
    assert (result.checked, result.changed, result.failed) == (25, 25, 0)
    assert JobEvent.objects.filter(source="sync", to_status="queued").count() == 25


# --------------------------------------------------------------------------
# One round
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_round_fetches_only_jobs_whose_provider_status_is_not_final(openai_gateway, upstream):
    make_job("ftjob-open", "running")
    make_job("ftjob-done", "succeeded")
    make_job("ftjob-pending", "queued", ledger_state=LedgerState.PENDING)
    make_job("ftjob-failed-create", "failed", ledger_state=LedgerState.FAILED, terminal=False)
    upstream.jobs = {"ftjob-open": "running", "ftjob-done": "running"}

    result = sync_jobs(batch_size=1)

    assert upstream.gets == Counter({"ftjob-open": 1})
    assert (result.checked, result.changed, result.failed) == (1, 0, 0)


@pytest.mark.django_db
def test_a_round_in_small_batches_fetches_each_job_exactly_once(openai_gateway, upstream):
    ids = [f"ftjob-{i}" for i in range(7)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")

    result = sync_jobs(batch_size=3)

    assert upstream.gets == Counter(dict.fromkeys(ids, 1))
    assert (result.checked, result.changed) == (7, 7)
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()
    assert not FineTuningJob.objects.filter(lease_expires_at__isnull=False).exists()


@pytest.mark.django_db
def test_unchanged_status_writes_no_event_but_marks_the_job_synced(openai_gateway, upstream):
    job = make_job("ftjob-1", "running")
    upstream.jobs = {"ftjob-1": "running"}
    received = []
    job_status_changed.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t1")
    try:
        result = sync_jobs()
    finally:
        job_status_changed.disconnect(dispatch_uid="t1")

    job.refresh_from_db()
    assert (result.checked, result.changed) == (1, 0)
    assert not JobEvent.objects.exists()
    assert received == []
    assert job.synced_at is not None and job.sync_error == ""


@pytest.mark.django_db
def test_a_failing_job_is_recorded_on_the_job_and_the_others_still_sync(openai_gateway, upstream):
    for job_id in ("ftjob-a", "ftjob-b", "ftjob-c"):
        make_job(job_id, "queued")
    upstream.jobs = {"ftjob-a": "running", "ftjob-b": 500, "ftjob-c": "running"}

    result = sync_jobs(batch_size=2)

    assert (result.checked, result.changed, result.failed) == (3, 2, 1)
    assert [job_id for job_id, _ in result.failures] == ["ftjob-b"]
    failed = FineTuningJob.objects.get(public_id="ftjob-b")
    assert failed.status == "queued"
    assert failed.sync_error and failed.synced_at is not None
    assert failed.lease_owner == "" and failed.lease_expires_at is None
    assert set(FineTuningJob.objects.filter(sync_error="").values_list("status", flat=True)) == {
        "running"
    }


@pytest.mark.django_db
def test_a_successful_sync_clears_an_earlier_sync_error(openai_gateway, upstream):
    make_job("ftjob-1", "running", sync_error="upstream was down")
    upstream.jobs = {"ftjob-1": "running"}
    sync_jobs()
    assert FineTuningJob.objects.get().sync_error == ""


@pytest.mark.django_db
def test_a_job_whose_provider_entry_is_gone_is_a_failure_not_a_crash(openai_gateway, upstream):
    make_job("ftjob-orphan", "running", provider="removed-entry")
    make_job("ftjob-1", "queued")
    upstream.jobs = {"ftjob-1": "running"}

    result = sync_jobs()

    assert (result.checked, result.changed, result.failed) == (2, 1, 1)
    assert "no longer configured" in FineTuningJob.objects.get(public_id="ftjob-orphan").sync_error


@pytest.mark.django_db
def test_a_live_lease_of_another_worker_is_skipped_and_an_expired_one_is_taken_over(
    openai_gateway, upstream
):
    crashed = "deadhost:4242:0badc0ffee00"
    make_job(
        "ftjob-1",
        "queued",
        lease_owner=crashed,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    upstream.jobs = {"ftjob-1": "running"}

    skipped = sync_jobs()

    job = FineTuningJob.objects.get()
    assert skipped.checked == 0 and upstream.gets["ftjob-1"] == 0
    assert job.lease_owner == crashed and job.status == "queued"

    FineTuningJob.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    taken_over = sync_jobs()

    job.refresh_from_db()
    assert (taken_over.checked, taken_over.changed) == (1, 1)
    assert upstream.gets["ftjob-1"] == 1
    assert job.status == "running" and job.lease_owner == "" and job.lease_expires_at is None
    assert JobEvent.objects.filter(job=job, to_status="running", source="sync").count() == 1


@pytest.mark.django_db
def test_older_than_skips_jobs_synced_recently(openai_gateway, upstream):
    now = timezone.now()
    make_job("ftjob-fresh", "queued", synced_at=now - timedelta(seconds=10))
    make_job("ftjob-stale", "queued", synced_at=now - timedelta(seconds=600))
    make_job("ftjob-never", "queued")
    upstream.jobs = {"ftjob-fresh": "running", "ftjob-stale": "running", "ftjob-never": "running"}

    result = sync_jobs(older_than=60)

    assert upstream.gets == Counter({"ftjob-stale": 1, "ftjob-never": 1})
    assert result.checked == 2


@pytest.mark.django_db
def test_a_final_status_is_not_overwritten_by_a_stale_answer_arriving_late(
    openai_gateway, upstream
):
    job = make_job("ftjob-1", "running")

    def finished_meanwhile(job_id: str) -> None:
        # While the sync waits for its (stale) answer, an API retrieve
        # records the final status.
        FineTuningJob.objects.filter(pk=job.pk).update(
            status="succeeded", raw_status="succeeded", terminal=True, trained_tokens=10
        )

    upstream.on_get = finished_meanwhile
    upstream.jobs = {"ftjob-1": "running"}

    result = sync_jobs()

    job.refresh_from_db()
    assert (job.status, job.raw_status, job.terminal) == ("succeeded", "succeeded", True)
    assert result.changed == 0
    assert not JobEvent.objects.exists()


@pytest.mark.django_db
def test_a_job_reaching_succeeded_gets_its_cost(openai_gateway, upstream):
    make_job("ftjob-1", "running", estimated_cost_usd=Decimal("1.5"))
    upstream.jobs = {
        "ftjob-1": (
            "succeeded",
            {"trained_tokens": 1_234_567, "fine_tuned_model": "ft:gpt-4o-mini:org::x1"},
        )
    }
    sync_jobs()
    job = FineTuningJob.objects.get()
    assert job.status == "succeeded" and job.trained_tokens == 1_234_567
    assert job.cost_usd == Decimal("3.703701")  # 1,234,567 × $3.00 / 1M
    assert job.estimated_cost_usd == Decimal("1.5")


@pytest.mark.django_db
def test_the_sandbox_provider_syncs_through_the_same_path(sandbox, master):
    from tests.conftest import TRAINING

    file_id = master.upload(TRAINING).json()["id"]
    job_id = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": file_id}
    ).json()["id"]
    FineTuningJob.objects.filter(public_id=job_id).update(
        status="validating_files", raw_status="validating_files"
    )

    result = sync_jobs(provider="sandbox")

    assert (result.checked, result.changed, result.failed) == (1, 1, 0)
    event = JobEvent.objects.filter(job__public_id=job_id, source="sync").get()
    assert (event.from_status, event.to_status) == ("validating_files", "running")


# --------------------------------------------------------------------------
# The signal
# --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_signal_fires_once_per_change_after_the_change_is_committed(openai_gateway, upstream):
    for job_id in ("ftjob-a", "ftjob-b", "ftjob-c"):
        make_job(job_id, "queued")
    upstream.jobs = {"ftjob-a": "running", "ftjob-b": "queued", "ftjob-c": "failed"}
    seen = []

    def receiver(*, job, old_status, new_status, **kwargs):
        # Visible to everyone (committed) and no transaction left open.
        committed = FineTuningJob.objects.get(pk=job.pk).status
        seen.append((job.public_id, old_status, new_status, committed, connection.in_atomic_block))

    job_status_changed.connect(receiver, weak=False, dispatch_uid="test-after-commit")
    try:
        sync_jobs()
    finally:
        job_status_changed.disconnect(dispatch_uid="test-after-commit")

    assert sorted(seen) == [
        ("ftjob-a", "queued", "running", "running", False),
        ("ftjob-c", "queued", "failed", "failed", False),
    ]


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ftproxy_sync_jobs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


SUMMARY = re.compile(r"^checked=(\d+) changed=(\d+) failed=(\d+) seconds=\d+\.\d$", re.M)


@pytest.mark.django_db
def test_the_command_prints_a_one_line_summary(openai_gateway, upstream):
    make_job("ftjob-1", "queued")
    make_job("ftjob-2", "running")
    upstream.jobs = {"ftjob-1": "running", "ftjob-2": "running"}

    out, _ = run_command()

    assert [m.groups() for m in SUMMARY.finditer(out)] == [("2", "1", "0")]


@pytest.mark.django_db
def test_the_command_shows_progress_in_place_on_a_terminal(openai_gateway, upstream):
    for job_id in ("ftjob-1", "ftjob-2"):
        make_job(job_id, "queued")
    upstream.jobs = {"ftjob-1": "running", "ftjob-2": "running"}
    out = FakeTerminal()

    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())

    text = out.getvalue()
    assert "\rchecked=1 changed=1 failed=0" in text
    assert "\rchecked=2 changed=2 failed=0" in text
    assert SUMMARY.search(text)


@pytest.mark.django_db
def test_the_command_writes_no_carriage_returns_when_not_on_a_terminal(openai_gateway, upstream):
    make_job("ftjob-1", "queued")
    upstream.jobs = {"ftjob-1": "running"}
    out, _ = run_command()
    assert "\r" not in out


@pytest.mark.django_db
def test_the_command_exits_non_zero_when_a_job_failed(openai_gateway, upstream):
    make_job("ftjob-ok", "queued")
    make_job("ftjob-bad", "queued")
    upstream.jobs = {"ftjob-ok": "running", "ftjob-bad": 503}
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("ftproxy_sync_jobs", stdout=out, stderr=err)

    assert raised.value.returncode == 1
    assert [m.groups() for m in SUMMARY.finditer(out.getvalue())] == [("2", "1", "1")]
    assert "ftjob-bad" in err.getvalue()
    assert FineTuningJob.objects.get(public_id="ftjob-ok").status == "running"


@pytest.mark.django_db
def test_the_command_job_option_syncs_only_the_named_jobs(openai_gateway, upstream):
    for job_id in ("ftjob-1", "ftjob-2", "ftjob-3"):
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(("ftjob-1", "ftjob-2", "ftjob-3"), "running")

    run_command("--job", "ftjob-1", "--job", "ftjob-3")

    assert upstream.gets == Counter({"ftjob-1": 1, "ftjob-3": 1})


@pytest.mark.django_db
def test_the_command_provider_option_syncs_only_that_entry(gateway_config):
    gateway_config(
        {
            "finetune_settings": [
                openai_entry("east", "https://east.test/v1"),
                openai_entry("west", "https://west.test/v1"),
            ]
        }
    )
    make_job("ftjob-e", "queued", provider="east")
    make_job("ftjob-w", "queued", provider="west")
    with responses.RequestsMock() as mocked:
        mocked.get(
            "https://east.test/v1/fine_tuning/jobs/ftjob-e", json=job_json("ftjob-e", "running")
        )

        out, _ = run_command("--provider", "east")

    assert FineTuningJob.objects.get(public_id="ftjob-e").status == "running"
    assert FineTuningJob.objects.get(public_id="ftjob-w").synced_at is None
    assert [m.groups() for m in SUMMARY.finditer(out)] == [("1", "1", "0")]


@pytest.mark.django_db
def test_the_command_rejects_an_unconfigured_provider(openai_gateway):
    with pytest.raises(CommandError, match="'nope' is not configured.*configured: openai"):
        run_command("--provider", "nope")


@pytest.mark.django_db
def test_the_command_older_than_option_skips_recently_synced_jobs(openai_gateway, upstream):
    make_job("ftjob-fresh", "queued", synced_at=timezone.now() - timedelta(seconds=5))
    make_job("ftjob-stale", "queued", synced_at=timezone.now() - timedelta(hours=1))
    upstream.jobs = {"ftjob-fresh": "running", "ftjob-stale": "running"}

    run_command("--older-than", "60")

    assert upstream.gets == Counter({"ftjob-stale": 1})


@pytest.mark.django_db
def test_the_command_says_when_the_database_has_no_row_locking(openai_gateway, upstream):
    out, _ = run_command()
    assert ("no row locking" in out) == (not row_locking_supported())


class WatchedOutput(io.StringIO):
    """Output that signals once a round's summary line has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.summarised = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if SUMMARY.search(self.getvalue()):
            self.summarised.set()
        return written


@pytest.mark.django_db
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_command_in_watch_mode_stops_cleanly_on_ctrl_c_or_sigterm(
    openai_gateway, upstream, signum
):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    make_job("ftjob-1", "queued")
    upstream.jobs = {"ftjob-1": "running"}
    default = signal.getsignal(signum)
    out = WatchedOutput()

    def interrupt_while_waiting_for_the_next_round() -> None:
        # Only once the command's own handler is in place (never pytest's).
        if out.summarised.wait(10) and signal.getsignal(signum) is not default:
            os.kill(os.getpid(), signum)

    timer = threading.Thread(target=interrupt_while_waiting_for_the_next_round)
    timer.start()
    started = time.monotonic()
    call_command(
        "ftproxy_sync_jobs", "--watch", "--interval", "30", stdout=out, stderr=io.StringIO()
    )
    timer.join()

    assert time.monotonic() - started < 10
    text = out.getvalue()
    assert "Stopped." in text
    assert [m.groups() for m in SUMMARY.finditer(text)] == [("1", "1", "0")]
    assert signal.getsignal(signum) is default
    assert FineTuningJob.objects.get().status == "running"


@pytest.mark.django_db
def test_a_job_whose_lease_passed_to_another_worker_mid_batch_is_not_fetched_again(
    openai_gateway, upstream
):
    make_job("ftjob-a")
    make_job("ftjob-b")
    upstream.jobs = {"ftjob-a": "running", "ftjob-b": "running"}

    def other_worker_takes_b_over(job_id: str) -> None:
        # While ftjob-a's call is slow, ftjob-b's lease lapses and another worker claims it.
        if job_id == "ftjob-a":
            FineTuningJob.objects.filter(public_id="ftjob-b").update(
                lease_owner="other-host:1:x", lease_expires_at=timezone.now() + timedelta(minutes=5)
            )

    upstream.on_get = other_worker_takes_b_over
    result = sync_jobs(batch_size=2)
    assert upstream.gets == Counter({"ftjob-a": 1})
    assert (result.checked, result.failed) == (1, 0)
    assert FineTuningJob.objects.get(public_id="ftjob-b").lease_owner == "other-host:1:x"


@pytest.mark.django_db
def test_the_command_refuses_a_job_id_the_ledger_does_not_know(openai_gateway, upstream):
    make_job("ftjob-known")
    with pytest.raises(CommandError, match="ftjob-missing"):
        call_command(
            "ftproxy_sync_jobs",
            "--job",
            "ftjob-known",
            "--job",
            "ftjob-missing",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not upstream.gets


# --------------------------------------------------------------------------
# Threads fetch, the round records
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_worker_threads_only_call_the_upstream_and_never_open_a_database_connection(
    openai_gateway, upstream
):
    ids = [f"ftjob-{i:02d}" for i in range(12)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")
    seen: list[tuple[bool, bool]] = []

    def in_a_thread_without_a_connection(job_id: str) -> None:
        seen.append(
            (
                threading.current_thread() is not threading.main_thread(),
                connections["default"].connection is None,
            )
        )

    upstream.on_get = in_a_thread_without_a_connection
    result = sync_jobs(workers=4, batch_size=5)

    assert (result.checked, result.changed, result.failed) == (12, 12, 0)
    assert seen == [(True, True)] * 12
    assert JobEvent.objects.filter(source="sync", to_status="running").count() == 12
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()


@pytest.mark.django_db
def test_a_batch_whose_recording_fails_is_recorded_job_by_job(
    openai_gateway, upstream, monkeypatch
):
    ids = ["ftjob-a", "ftjob-b", "ftjob-c"]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")
    b = FineTuningJob.objects.get(public_id="ftjob-b").pk

    def broken_for_b(execute, sql, params, many, context):  # the event of b's change
        if sql.startswith("INSERT") and "ftproxy_jobevent" in sql and b in (params or ()):
            raise RuntimeError("boom")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(broken_for_b):  # the round records in this thread
        result = sync_jobs(workers=3, batch_size=3)  # the three answers form one batch

    assert (result.checked, result.changed, result.failed) == (3, 2, 1)
    assert result.failures == [("ftjob-b", "RuntimeError: boom")]
    events = Counter(JobEvent.objects.values_list("job__public_id", "to_status"))
    assert events == Counter({("ftjob-a", "running"): 1, ("ftjob-c", "running"): 1})
    rows = {row.public_id: row for row in FineTuningJob.objects.all()}
    assert rows["ftjob-b"].status == "queued" and rows["ftjob-b"].sync_error == "RuntimeError: boom"
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()


@pytest.mark.django_db
def test_a_stop_request_frees_the_claimed_jobs_not_yet_fetched(openai_gateway, upstream):
    ids = ["ftjob-1", "ftjob-2", "ftjob-3"]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")
    stop = threading.Event()
    upstream.on_get = lambda job_id: stop.set()

    result = sync_jobs(batch_size=3, should_stop=stop.is_set)

    assert result.checked == 1 and sum(upstream.gets.values()) == 1
    rows = list(FineTuningJob.objects.order_by("public_id"))
    assert [row.synced_at is not None for row in rows] == [True, False, False]
    assert all(row.lease_owner == "" and row.lease_expires_at is None for row in rows)


@pytest.mark.django_db
def test_a_batch_is_claimed_in_a_fixed_number_of_queries(
    openai_gateway, django_assert_max_num_queries
):
    from ftproxy.services.jobs.leases import candidates, claim

    for i in range(25):
        make_job(f"ftjob-{i:02d}", "queued")
    # savepoint, the ids, one UPDATE, release; the rows loaded in one query
    with django_assert_max_num_queries(5):
        claimed = claim(
            candidates(None, None, timezone.now()),
            owner="me",
            size=25,
            lease_seconds=300,
            row_locking=row_locking_supported(),
        )
    assert len(claimed) == 25
    assert set(FineTuningJob.objects.values_list("lease_owner", flat=True)) == {"me"}


@pytest.mark.django_db
def test_a_jobs_lease_covers_its_own_call_when_the_call_starts(openai_gateway, upstream):
    make_job("ftjob-1")
    make_job("ftjob-2")
    upstream.jobs = {"ftjob-1": "running", "ftjob-2": "running"}
    left: dict[str, float] = {}

    def lease_left(job_id: str) -> None:  # in this thread: workers=1 calls here
        expires = FineTuningJob.objects.get(public_id=job_id).lease_expires_at
        left[job_id] = (expires - timezone.now()).total_seconds()

    upstream.on_get = lease_left
    sync_jobs(batch_size=2, lease_seconds=30)

    # The entry's timeout × its attempts + 60 s, not the 30 s of the claim.
    entry = gateway().provider(FINE_TUNING, "openai")
    cover = entry.timeout * (entry.max_retries + 1) + 60
    assert cover > 300
    assert set(left) == {"ftjob-1", "ftjob-2"}
    assert all(cover - 10 < seconds <= cover for seconds in left.values()), left


@pytest.mark.django_db
def test_a_job_taken_by_a_thread_long_after_its_renewal_is_renewed_again_first(
    openai_gateway, upstream, monkeypatch
):
    from ftproxy.services.jobs import leases
    from ftproxy.services.jobs.fetchers import Fetchers

    ids = [f"ftjob-{i}" for i in range(6)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")
    put, extend = Fetchers.put, leases.extend_leases
    handed: Counter[str] = Counter()
    renewed: Counter[str] = Counter()

    def put_as_if_long_ago(self, job, renewed_at):
        handed[job.public_id] += 1
        if handed[job.public_id] == 1:  # as if it had waited an hour for a free thread
            renewed_at -= 3600
        put(self, job, renewed_at)

    def counting_extend(pks, owner, expires):
        for public_id in FineTuningJob.objects.filter(pk__in=pks).values_list(
            "public_id", flat=True
        ):
            renewed[public_id] += 1
        return extend(pks, owner, expires)

    monkeypatch.setattr(Fetchers, "put", put_as_if_long_ago)
    monkeypatch.setattr(leases, "extend_leases", counting_extend)
    result = sync_jobs(workers=2)

    assert (result.checked, result.changed, result.failed) == (6, 6, 0)
    assert upstream.gets == Counter(dict.fromkeys(ids, 1))
    assert renewed == Counter(dict.fromkeys(ids, 2))


@pytest.mark.django_db
def test_a_stop_request_with_threads_ends_with_the_calls_in_flight_and_frees_the_rest(
    openai_gateway, upstream
):
    ids = [f"ftjob-{i:02d}" for i in range(40)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")
    upstream.delay = 0.01
    stop = threading.Event()
    upstream.on_get = lambda job_id: stop.set()

    result = sync_jobs(workers=2, should_stop=stop.is_set)

    fetched = set(upstream.gets)
    assert 1 <= result.checked == len(fetched) < 40
    assert set(upstream.gets.values()) == {1}
    rows = FineTuningJob.objects.all()
    assert {row.public_id for row in rows if row.synced_at is not None} == fetched
    assert {row.public_id for row in rows if row.status == "running"} == fetched
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()
    assert not FineTuningJob.objects.filter(lease_expires_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_that_dies_answers_its_job_as_failed_and_the_others_carry_on(
    openai_gateway, upstream, monkeypatch
):
    ids = [f"ftjob-{i}" for i in range(6)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")

    def exits_on_3(job_id):  # raised from inside the provider's HTTP call
        if job_id == "ftjob-3":
            raise SystemExit("provider code called exit")

    upstream.on_get = exits_on_3
    result = sync_jobs(workers=2)

    assert (result.checked, result.changed, result.failed) == (6, 5, 1)
    assert result.failures == [("ftjob-3", "SystemExit: provider code called exit")]
    assert not FineTuningJob.objects.exclude(lease_owner="").exists()


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_when_every_thread_has_died_the_round_fails_and_frees_its_jobs(
    openai_gateway, upstream, monkeypatch
):
    ids = [f"ftjob-{i}" for i in range(6)]
    for job_id in ids:
        make_job(job_id, "queued")
    upstream.jobs = dict.fromkeys(ids, "running")

    def exits(job_id):  # raised from inside the provider's HTTP call
        raise SystemExit("provider code called exit")

    upstream.on_get = exits
    with pytest.raises(RuntimeError, match="every sync thread has ended"):
        sync_jobs(workers=2)

    rows = list(FineTuningJob.objects.all())
    assert not [row for row in rows if row.lease_owner or row.lease_expires_at]
    failed = [row.public_id for row in rows if row.sync_error]
    assert len(failed) == 2 and all(row.synced_at is None for row in rows if not row.sync_error)
