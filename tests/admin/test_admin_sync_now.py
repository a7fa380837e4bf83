""" "Sync all active jobs now" is bounded to fit in a request: at most
``sync_now_max_jobs`` jobs, those synced longest ago first, and no new one
after ``sync_now_seconds``; the message says how many are left for the
sync watcher."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import responses
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from ftproxy.admin.jobs import FineTuningJobAdmin
from ftproxy.models import FineTuningJob
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

BASE = "https://up.test/v1"
SYNC = "admin:ftproxy_finetuningjob_sync_active"


@pytest.fixture
def openai_jobs(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": BASE}
    gateway_config({"finetune_settings": [entry]})
    long_ago = timezone.now() - timedelta(hours=1)
    for n in range(8):
        ledger_job(f"ftjob-{n}", "queued", synced_at=long_ago + timedelta(minutes=n))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as upstream:
        upstream.add_callback(
            responses.GET,
            re.compile(rf"{re.escape(BASE)}/fine_tuning/jobs/ftjob-\d+$"),
            callback=running,
            content_type="application/json",
        )
        yield upstream


def running(request):
    job = {
        "id": request.url.rsplit("/", 1)[1],
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "status": "running",
        "created_at": 1_700_000_000,
        "training_file": "file-train",
    }
    return 200, {}, json.dumps(job)


def press(admin_client):
    response = admin_client.post(reverse(SYNC), follow=True)
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_at_most_the_bound_is_synced_oldest_first(admin_client, openai_jobs, monkeypatch):
    monkeypatch.setattr(FineTuningJobAdmin, "sync_now_max_jobs", 3)
    assert press(admin_client) == [
        "Synced active jobs: 3 checked, 3 changed, 0 failed. 5 more left for the sync "
        "watcher (at most 3 jobs or 10 s in one press)."
    ]
    assert len(openai_jobs.calls) == 3
    running = FineTuningJob.objects.filter(status="running").values_list("public_id", flat=True)
    assert sorted(running) == ["ftjob-0", "ftjob-1", "ftjob-2"]


def test_no_job_is_taken_once_the_time_is_up(admin_client, openai_jobs, monkeypatch):
    monkeypatch.setattr(FineTuningJobAdmin, "sync_now_seconds", 0)
    (message,) = press(admin_client)
    assert message.startswith("Synced active jobs: 0 checked, 0 changed, 0 failed. 8 more left")
    assert len(openai_jobs.calls) == 0
    assert not FineTuningJob.objects.filter(lease_owner__gt="").exists()


def test_within_the_bound_every_active_job_is_synced(admin_client, openai_jobs):
    assert press(admin_client) == ["Synced active jobs: 8 checked, 8 changed, 0 failed."]
