"""A create that the caller sent once runs once, and every job that runs
upstream ends up in the ledger, whatever step the request dies at.

The request is killed at each step by making the database fail from a
chosen query on (``connection.execute_wrapper``: the ledger write fails as
it would with the database gone), or by the provider failing after it has
received the create. The upstream is a small fake OpenAI behind
``responses`` that keeps the jobs it created, with their metadata.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models import F
from django.utils import timezone

from ftproxy.models import File, FineTuningJob, IdempotencyRecord, LedgerState
from tests.conftest import TRAINING

BASE = "https://api.openai.test/v1"
JOBS = f"{BASE}/fine_tuning/jobs"
BODY = {"model": "gpt-4o-mini", "training_file": "file-abc", "metadata": {"team": "a"}}

# Real transactions: a failing query inside a test-wide transaction would
# poison it, unlike a request's own.
pytestmark = pytest.mark.django_db(transaction=True)


class FakeOpenAI:
    """Creates jobs (keeping their metadata), lists them by metadata filter
    and retrieves them, like OpenAI's fine-tuning API."""

    def __init__(self, rsps: responses.RequestsMock):
        self.jobs: list[dict] = []
        self.posts = 0
        self.fail_after_create: Exception | None = None
        rsps.add_callback(responses.POST, JOBS, callback=self.create)
        rsps.add_callback(responses.GET, JOBS, callback=self.list)
        rsps.add_callback(responses.GET, re.compile(rf"{JOBS}/ftjob-up-\d+$"), callback=self.get)

    def create(self, request):
        self.posts += 1
        body = json.loads(request.body)
        job = {
            "id": f"ftjob-up-{len(self.jobs) + 1}",
            "object": "fine_tuning.job",
            "model": body["model"],
            "training_file": body["training_file"],
            "status": "validating_files",
            "created_at": 1_700_000_000,
            "metadata": body.get("metadata"),
            "hyperparameters": {},
        }
        self.jobs.append(job)
        if self.fail_after_create is not None:
            raise self.fail_after_create  # the job exists; the answer is lost
        return 200, {}, json.dumps(job)

    def list(self, request):
        query = parse_qs(urlsplit(request.url).query)
        wanted = {k[len("metadata[") : -1]: v[0] for k, v in query.items() if k.startswith("meta")}
        found = [
            job
            for job in self.jobs
            if all((job.get("metadata") or {}).get(k) == v for k, v in wanted.items())
        ]
        return 200, {}, json.dumps({"object": "list", "data": found, "has_more": False})

    def get(self, request):
        job_id = request.url.rsplit("/", 1)[1]
        return 200, {}, json.dumps(next(job for job in self.jobs if job["id"] == job_id))


@pytest.fixture
def upstream(gateway_config):
    entry = {
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream-secret",
        "api_base": BASE,
        "timeout": 5,
        "max_retries": 0,
    }
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOpenAI(rsps)


class DatabaseDies:
    """From the first query matching ``trigger`` on, every query fails as if
    the database had gone away (a crash of the ledger at that step)."""

    def __init__(self, trigger):
        self.trigger = trigger
        self.dead = False

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            return execute(sql, params, many, context)  # let transactions unwind
        if self.dead or self.trigger(sql):
            self.dead = True
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def linking(sql: str) -> bool:
    """The update that links a job to its upstream id (after the call)."""
    return sql.startswith("UPDATE") and "ftproxy_finetuningjob" in sql and "remote_id" in sql


def inserting(sql: str) -> bool:
    """The insert of the pending row (before the call)."""
    return sql.startswith("INSERT") and "ftproxy_finetuningjob" in sql


def time_passes() -> None:
    """The request's own time limit is over for every claim and row."""
    past = timezone.now() - timedelta(hours=1)
    IdempotencyRecord.objects.update(expires_at=past)
    FineTuningJob.objects.update(created_at=F("created_at") - 3600)


def create(master, key: str = "k1"):
    return master.post_json("/v1/fine_tuning/jobs", BODY, headers={"Idempotency-Key": key})


def test_a_retry_after_the_ledger_died_past_the_upstream_call_links_the_job_once(upstream, master):
    with connection.execute_wrapper(DatabaseDies(linking)):
        first = create(master)
    assert first.status_code == 503
    assert first["x-should-retry"] == "false"  # the job may exist (it does)
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.PENDING and row.remote_id is None
    record = IdempotencyRecord.objects.get()
    assert record.status_code is None  # the answer could not be stored either
    assert record.expires_at < timezone.now() + timedelta(minutes=2)  # not 30 minutes

    assert create(master).status_code == 409  # still within the request's time limit
    time_passes()
    again = create(master)
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == "ftjob-up-1"
    assert again.json()["status"] == "validating_files"
    assert again.json()["metadata"] == {"team": "a"}  # exactly as sent
    assert upstream.posts == 1
    row.refresh_from_db()
    assert (row.ledger_state, row.remote_id, row.public_id) == ("ok", "ftjob-up-1", "ftjob-up-1")
    assert row.events.get().source == "reconcile"
    assert create(master).json()["id"] == "ftjob-up-1"  # and from then on, replayed
    assert upstream.posts == 1


def test_a_retry_after_a_request_that_died_before_the_call_creates_the_job(upstream, master):
    dies = DatabaseDies(inserting)
    with connection.execute_wrapper(dies):
        first = create(master)
    assert first.status_code == 503
    assert "x-should-retry" not in first  # nothing happened upstream: the SDK may retry
    assert upstream.posts == 0
    # The claim could not be freed (the database was gone): it expires by itself.
    time_passes()
    again = create(master)
    assert again.status_code == 200, again.content
    assert "Idempotent-Replayed" not in again
    assert upstream.posts == 1


def test_a_row_whose_create_never_reached_the_provider_is_failed_by_the_sync(upstream, master):
    # The pending row is written, then the database dies before the call.
    dies = DatabaseDies(lambda sql: sql.startswith("UPDATE") and "ftproxy_idempotency" in sql)
    with connection.execute_wrapper(dies):
        assert create(master).status_code == 503
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.PENDING
    time_passes()
    again = create(master)  # the claim never knew the row: nothing was sent, the key is free
    assert again.status_code == 200
    assert upstream.posts == 1
    call_command("ftproxy_sync_jobs", stdout=io.StringIO(), stderr=io.StringIO())
    row.refresh_from_db()
    assert row.ledger_state == LedgerState.FAILED  # provably absent upstream
    assert "never reached the provider" in row.ledger_error


def test_a_provider_that_fails_after_creating_keeps_the_key_until_the_job_is_found(
    upstream, master
):
    upstream.fail_after_create = requests.exceptions.ReadTimeout("read timed out")
    first = create(master)
    assert first.status_code == 504 and first["x-should-retry"] == "false"
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.PENDING  # never "failed": it may exist upstream
    assert create(master).json()["error"]["code"] == "outcome_unknown"  # replayed for now
    time_passes()
    again = create(master)
    assert again.status_code == 200 and again.json()["id"] == "ftjob-up-1"
    assert upstream.posts == 1


def test_the_sync_command_links_fails_and_flags_pending_rows(upstream, master, gateway_config):
    upstream.fail_after_create = requests.exceptions.ReadTimeout("read timed out")
    assert create(master, "a").status_code == 504  # exists upstream
    upstream.fail_after_create = None
    dies = DatabaseDies(lambda sql: sql.startswith("UPDATE") and "ftproxy_idempotency" in sql)
    with connection.execute_wrapper(dies):
        assert create(master, "b").status_code == 503  # never sent
    linked, absent = FineTuningJob.objects.order_by("id")
    time_passes()
    out = io.StringIO()
    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())
    assert "pending creates: linked=1 failed=1 flagged=0" in out.getvalue()
    linked.refresh_from_db()
    absent.refresh_from_db()
    assert (linked.ledger_state, linked.status) == ("ok", "validating_files")
    assert absent.ledger_state == "failed"
    listed = master.get("/v1/fine_tuning/jobs").json()["data"]
    assert [job["id"] for job in listed] == ["ftjob-up-1"]
    assert all(job["status"] for job in listed)  # never an empty status


def test_a_provider_that_keeps_no_tag_gets_the_row_flagged_for_an_admin(gateway_config, master):
    entry = {
        "custom_llm_provider": "azure",
        "api_base": "https://azure.test",
        "api_key": "azure-secret-key",
        "api_version": "2024-10-21",
        "timeout": 5,
        "max_retries": 0,
    }
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    url = "https://azure.test/openai/fine_tuning/jobs"
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, url, body=requests.exceptions.ReadTimeout("slow"))
        body = {"model": "gpt-4o-mini", "training_file": "file-abc"}
        headers = {"Idempotency-Key": "az"}
        assert master.post_json("/v1/fine_tuning/jobs", body, headers=headers).status_code == 504
        sent = json.loads(rsps.calls[0].request.body)
        assert "metadata" not in sent  # the dated API keeps none
        time_passes()
        again = master.post_json("/v1/fine_tuning/jobs", body, headers=headers)
    assert again.status_code == 504 and again["x-should-retry"] == "false"
    assert again.json()["error"]["code"] == "outcome_unknown"
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.UNKNOWN
    assert "look for a job created at" in row.ledger_error


def test_the_gateway_id_goes_upstream_and_never_comes_back(upstream, master):
    response = master.post_json("/v1/fine_tuning/jobs", {**BODY, "metadata": None})
    assert response.status_code == 200
    assert upstream.jobs[0]["metadata"] == {
        "ftproxy_job_id": upstream.jobs[0]["metadata"]["ftproxy_job_id"]
    }
    assert response.json()["metadata"] is None  # as sent
    retrieved = master.get(f"/v1/fine_tuning/jobs/{response.json()['id']}").json()
    assert retrieved["metadata"] is None
    row = FineTuningJob.objects.get()
    assert "ftproxy_job_id" not in json.dumps(row.provider_payload)


def test_metadata_keys_of_the_gateway_are_refused(upstream, master):
    response = master.post_json("/v1/fine_tuning/jobs", {**BODY, "metadata": {"ftproxy_x": "1"}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"
    assert upstream.posts == 0


def test_a_local_failure_frees_the_key_and_is_retryable(upstream, master):
    calls = {"n": 0}

    def first_insert_fails(execute, sql, params, many, context):
        if inserting(sql) and calls["n"] == 0:
            calls["n"] += 1
            raise OperationalError("the ledger insert failed")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(first_insert_fails):
        first = create(master)
        assert first.status_code == 503 and "x-should-retry" not in first
        again = create(master)  # at once: the key was freed, not burnt
    assert again.status_code == 200
    assert upstream.posts == 1


def test_an_upload_whose_answer_was_lost_is_found_and_linked_by_the_retry(sandbox, master):
    def linking_the_file(sql: str) -> bool:
        return sql.startswith("UPDATE") and "ftproxy_file" in sql and "remote_id" in sql

    with connection.execute_wrapper(DatabaseDies(linking_the_file)):
        first = master.upload(TRAINING, headers={"Idempotency-Key": "up"})
    assert first.status_code == 503 and first["x-should-retry"] == "false"
    row = File.objects.get()
    assert row.ledger_state == LedgerState.PENDING
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    again = master.upload(TRAINING, headers={"Idempotency-Key": "up"})
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    row.refresh_from_db()
    assert (row.ledger_state, again.json()["id"]) == ("ok", row.public_id)
    store = Path(sandbox["files_settings"][0]["storage_dir"]) / "files"
    assert len(list(store.glob("file-*.json"))) == 1  # uploaded once


def test_vertex_finds_an_upload_by_the_gateway_id_in_its_object_path():
    from ftproxy.providers.data import FileUpload
    from tests.providers.vertex.helpers import BUCKET, GCS, mock_token, provider

    vertex = provider()
    sent = FileUpload("train.jsonl", "fine-tune", io.BytesIO(b""), 10)
    converted = "team-a/ftproxy/file-abc/gemini/train.jsonl"
    url = f"{GCS}/storage/v1/b/{BUCKET}/o/" + converted.replace("/", "%2F")
    preference = converted.replace("/gemini/", "/gemini-preference/")
    preference_url = f"{GCS}/storage/v1/b/{BUCKET}/o/" + preference.replace("/", "%2F")
    gone = {"status": 404, "json": {"error": {"code": 404}}}
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(responses.GET, url, json={"name": converted, "size": "10"})
        found = vertex.find_file("file-abc", sent)
        # A DPO file's converted copy sits in the preference folder.
        rsps.replace(responses.GET, url, **gone)
        rsps.add(responses.GET, preference_url, json={"name": preference, "size": "10"})
        found_preference = vertex.find_file("file-abc", sent)
        rsps.replace(responses.GET, preference_url, **gone)
        missing = vertex.find_file("file-abc", sent)
    assert found.remote_id == f"gs://{BUCKET}/{converted}"
    assert found_preference.remote_id == f"gs://{BUCKET}/{preference}"
    assert missing is None
