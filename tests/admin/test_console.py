"""The admin as a daily console: dashboard, links both ways, search by key
name and training file, confirmation pages, local times, status history."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from ftproxy.admin.history import duration_text, time_in_states
from ftproxy.models import ApiKey, AuditEntry, File, FineTuningJob, JobEvent, SyncRound
from tests.factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:ftproxy_{model}_{view}", args=args)


@pytest.fixture
def console(gateway_config):
    """A key with a training file, a succeeded job with a result file, a
    failed job, audit rows, and another key's job."""
    gateway_config({})
    alice, _ = ApiKey.create_key("alice-search-team")
    bob, _ = ApiKey.create_key("bob-search-team")
    now = int(time.time())
    train = ledger_file("file-train-1", owner=alice, filename="support-chats.jsonl", bytes=900)
    result = ledger_file(
        "file-result-1", owner=alice, filename="step_metrics.csv", purpose="fine-tune-results"
    )
    done = ledger_job(
        "ftjob-done",
        "succeeded",
        owner=alice,
        training_file=train.public_id,
        result_files=[result.public_id],
        cost_usd=Decimal("12.50"),
        finished_at=now - 3600,
    )
    failed = ledger_job(
        "ftjob-broke",
        "failed",
        owner=alice,
        model="gpt-4o-2024-08-06",
        training_file=train.public_id,
        error={"code": "invalid_training_file", "message": "Line 3 is not JSON."},
        finished_at=now - 60,
    )
    other = ledger_job("ftjob-bobs", "running", owner=bob, training_file="file-bob")
    AuditEntry.objects.create(
        request_id="req-alice",
        key=alice,
        key_prefix=alice.prefix,
        method="GET",
        path="/v1/files",
        action="files.list",
        status_code=200,
    )
    AuditEntry.objects.create(
        request_id="req-bob",
        key=bob,
        key_prefix=bob.prefix,
        method="GET",
        path="/v1/files",
        action="files.list",
        status_code=200,
    )
    SyncRound.objects.create(
        started=timezone.now() - timedelta(seconds=5),
        worker="host:1:abc",
        checked=3,
        changed=1,
        failed=1,
        first_error="ftjob-bobs: upstream says 500",
    )
    return locals()


def test_the_dashboard_is_linked_from_the_index_and_shows_the_ledger(admin_client, console):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "/admin/ftproxy/dashboard/" in index

    response = admin_client.get("/admin/ftproxy/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    jobs = response.context["jobs"]
    assert jobs["statuses"] == ["running", "succeeded", "failed"]
    assert [(row["provider"], [n for n, _ in row["cells"]]) for row in jobs["rows"]] == [
        ("openai", [1, 1, 1])
    ]
    spend = response.context["spend"]
    assert [(row.label, row.total) for row in spend["per_key"]] == [
        ("alice-search-team", Decimal("12.50"))
    ]
    assert [row.label for row in spend["per_model"]] == ["gpt-4o-mini-2024-07-18"]
    assert "<svg" in html and "$12.50" in html and "<script" not in html.split("<svg")[1]
    assert "ftjob-broke" in html and "Line 3 is not JSON." in html  # recent failures
    assert "3 checked, 1 changed" in html and "ftjob-bobs: upstream says 500" in html


def test_the_dashboard_warns_when_no_sync_round_came_lately(admin_client, console):
    SyncRound.objects.update(finished=timezone.now() - timedelta(hours=2))
    html = admin_client.get("/admin/ftproxy/dashboard/").content.decode()
    assert "No sync round for 2 h" in html and "ftproxy_sync_jobs --watch" in html


def test_a_job_page_links_its_files_and_key_and_shows_local_times(admin_client, console):
    job, alice = console["done"], console["alice"]
    html = admin_client.get(url("finetuningjob", "change", job.pk)).content.decode()
    assert url("file", "change", console["train"].pk) in html
    assert url("file", "change", console["result"].pk) in html
    assert "support-chats.jsonl" in html
    assert url("apikey", "change", alice.pk) in html
    when = timezone.localtime(datetime.fromtimestamp(job.finished_at, tz=UTC))
    assert f"{when:%Y-%m-%d %H:%M:%S} UTC" in html
    assert f'<span class="ftp-secondary">{job.finished_at}</span>' in html  # epoch kept


def test_a_file_page_links_the_jobs_that_used_or_produced_it(admin_client, console):
    train = admin_client.get(url("file", "change", console["train"].pk)).content.decode()
    assert url("finetuningjob", "change", console["done"].pk) in train
    assert url("finetuningjob", "change", console["failed"].pk) in train
    result = admin_client.get(url("file", "change", console["result"].pk)).content.decode()
    produced = result.split("Result file of")[1]
    assert url("finetuningjob", "change", console["done"].pk) in produced


def test_a_key_page_links_its_jobs_files_and_audit_entries(admin_client, console):
    alice = console["alice"]
    html = admin_client.get(url("apikey", "change", alice.pk)).content.decode()
    targets = re.findall(r'<a href="([^"]+)">(\d+) (jobs|files|audit entries)</a>', html)
    assert [(count, label) for _, count, label in targets] == [
        ("2", "jobs"),
        ("2", "files"),
        ("1", "audit entries"),
    ]
    for href, count, _ in targets:
        listed = admin_client.get(href.replace("&amp;", "&"))
        assert listed.status_code == 200
        assert listed.context["cl"].result_count == int(count)


@pytest.mark.parametrize(
    "model, query, expected",
    [
        ("finetuningjob", "file-train-1", {"ftjob-done", "ftjob-broke"}),
        ("finetuningjob", "alice-search", {"ftjob-done", "ftjob-broke"}),
        ("file", "alice-search", {"file-train-1", "file-result-1"}),
        ("auditentry", "bob-search", {"req-bob"}),  # a key name no random prefix holds
    ],
)
def test_search_by_training_file_and_key_name(admin_client, console, model, query, expected):
    response = admin_client.get(url(model, "changelist"), {"q": query})
    rows = response.context["cl"].result_list
    assert {getattr(row, "public_id", None) or row.request_id for row in rows} == expected


def test_long_names_are_truncated_with_the_whole_on_hover(admin_client, console):
    File.objects.filter(pk=console["train"].pk).update(filename="x" * 120 + ".jsonl")
    html = admin_client.get(url("file", "changelist")).content.decode()
    assert f'style="max-width: 28ch" title="{"x" * 120}.jsonl"' in html


def test_revoke_asks_first_on_a_page_listing_what_the_keys_own(admin_client, console):
    alice = console["alice"]
    data = {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [alice.pk]}
    page = admin_client.post(url("apikey", "changelist"), data)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Are you sure you want to revoke" in html
    assert "alice-search-team" in html and "2 job(s), 0 still active" in html
    assert 'name="post" value="yes"' in html
    # Other processes hold the key in their caches for up to 5 s (docs/operations.md, API keys).
    from ftproxy.services.ledger.keys import KEY_CACHE_SECONDS

    assert f"within {KEY_CACHE_SECONDS:g} seconds by every other" in html
    alice.refresh_from_db()
    assert not alice.revoked  # nothing happened yet
    admin_client.post(url("apikey", "changelist"), {**data, "post": "yes"})
    alice.refresh_from_db()
    assert alice.revoked


def test_cancel_asks_first_and_lists_final_jobs_as_skipped(admin_client, console):
    jobs = [console["done"], console["other"]]
    data = {"action": "cancel_selected", ACTION_CHECKBOX_NAME: [job.pk for job in jobs]}
    page = admin_client.post(url("finetuningjob", "changelist"), data)
    html = page.content.decode()
    assert "Are you sure you want to cancel" in html
    touched, skipped = html.split("Skipped")
    assert "ftjob-bobs" in touched and "ftjob-done" in skipped and "already succeeded" in skipped
    assert FineTuningJob.objects.get(pk=console["other"].pk).status == "running"


def test_the_key_list_has_an_active_column(admin_client, console):
    console["bob"].revoke()
    response = admin_client.get(url("apikey", "changelist"))
    assert "active" in response.context["cl"].list_display
    html = response.content.decode()
    assert html.count('alt="True"') == 1 and html.count('alt="False"') == 1
    active = admin_client.get(url("apikey", "changelist"), {"active": "yes"})
    assert [key.name for key in active.context["cl"].result_list] == ["alice-search-team"]


def test_status_history_shows_time_in_each_status_above_the_payload(admin_client, console):
    job = console["other"]
    FineTuningJob.objects.filter(pk=job.pk).update(provider_payload={"status": "running"})
    start = timezone.now() - timedelta(minutes=10)
    for offset, (old, new) in enumerate([("", "queued"), ("queued", "running")]):
        event = JobEvent.objects.create(job=job, from_status=old, to_status=new, source="sync")
        JobEvent.objects.filter(pk=event.pk).update(created=start + timedelta(minutes=3 * offset))
    html = admin_client.get(url("finetuningjob", "change", job.pk)).content.decode()
    assert "3 min 00 s" in html and "7 min" in html and "so far" in html
    assert html.index("ftp-history") < html.index("Provider payload")


def test_durations_read_well():
    assert duration_text(timedelta(seconds=12)) == "12 s"
    assert duration_text(timedelta(minutes=4, seconds=9)) == "4 min 09 s"
    assert duration_text(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert duration_text(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert time_in_states([], final=True) == []


def test_the_dashboard_query_count_does_not_grow_with_the_ledger(admin_client, console):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/admin/ftproxy/dashboard/").status_code == 200
        return len(captured)

    before = queries()
    for n in range(15):
        ledger_job(f"ftjob-more-{n}", "failed", owner=console["alice"], finished_at=1)
        ledger_job(
            f"ftjob-paid-{n}", "succeeded", model=f"m-{n}", cost_usd=1, finished_at=int(time.time())
        )
    assert queries() == before


def test_spend_per_model_links_to_that_models_jobs_only(admin_client, console):
    ledger_job("ftjob-4o", "succeeded", model="gpt-4o", cost_usd=1, finished_at=int(time.time()))
    response = admin_client.get("/admin/ftproxy/dashboard/")
    row = next(r for r in response.context["spend"]["per_model"] if r.label == "gpt-4o")
    listed = admin_client.get(row.link)
    assert [job.public_id for job in listed.context["cl"].result_list] == ["ftjob-4o"]
