"""The Django admin: keys shown once, a read-only ledger, job actions that
call the services and report provider failures as messages."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from ftproxy.models import (
    ApiKey,
    AuditEntry,
    File,
    FineTuningJob,
    JobEvent,
    LedgerState,
    hash_key,
)
from tests.factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db

MASTER = "Bearer sk-test-master"
TRAINING_JSONL = (
    "\n".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"question {n}"},
                    {"role": "assistant", "content": f"answer {n}"},
                ]
            }
        )
        for n in range(10)
    )
    + "\n"
).encode()


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:ftproxy_{model}_{view}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def make_file(owner: ApiKey | None = None, **fields) -> File:
    values = {
        "public_id": "file-abc123",
        "provider": "sandbox",
        "owner": owner,
        "filename": "train.jsonl",
        "bytes": 1234,
        "provider_payload": {"id": "file-abc123", "object": "file"},
    }
    return ledger_file(**{**values, **fields})


def make_job(owner: ApiKey | None = None, **fields) -> FineTuningJob:
    values = {
        "public_id": "ftjob-abc123",
        "provider": "sandbox",
        "owner": owner,
        "training_file": "file-abc123",
        "hyperparameters": {"n_epochs": 3},
        "provider_payload": {"id": "ftjob-abc123", "status": "running", "nested": {"a": 1}},
    }
    return ledger_job(**{**values, **fields})


def make_audit(key: ApiKey | None = None, **fields) -> AuditEntry:
    values = {
        "request_id": "req-0001",
        "key": key,
        "key_prefix": key.prefix if key else "master",
        "method": "GET",
        "path": "/v1/files",
        "action": "files.list",
        "status_code": 200,
        "duration_ms": 12,
    }
    values.update(fields)
    return AuditEntry.objects.create(**values)


@pytest.fixture
def ledger():
    """One row of every kind, owned by a key."""
    key, raw = ApiKey.create_key("alice")
    file = make_file(owner=key)
    job = make_job(owner=key, cost_usd=Decimal("1.25"))
    event = JobEvent.objects.create(
        job=job,
        from_status="queued",
        to_status="running",
        provider_status="running",
        source="sync",
    )
    audit = make_audit(key=key)
    return SimpleNamespace(key=key, raw=raw, file=file, job=job, event=event, audit=audit)


def api_job(client) -> FineTuningJob:
    """A sandbox job created through the real API with the master key."""
    upload = io.BytesIO(TRAINING_JSONL)
    upload.name = "train.jsonl"
    response = client.post(
        "/v1/files", {"file": upload, "purpose": "fine-tune"}, HTTP_AUTHORIZATION=MASTER
    )
    assert response.status_code == 200, response.content
    response = client.post(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini-2024-07-18", "training_file": response.json()["id"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=MASTER,
    )
    assert response.status_code == 200, response.content
    return FineTuningJob.objects.get(public_id=response.json()["id"])


def run_action(admin_client, model: str, action: str, rows, *, confirm: bool = False) -> object:
    """Post an action; with ``confirm``, as its confirmation page posts it back."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [row.pk for row in rows]}
    if confirm:
        data["post"] = "yes"
    return admin_client.post(url(model, "changelist"), data, follow=True)


# --------------------------------------------------------------------------
# Every page renders
# --------------------------------------------------------------------------

MODELS = ["apikey", "file", "finetuningjob", "jobevent", "auditentry"]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders_with_rows_present(admin_client, ledger, model):
    response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("model", MODELS)
def test_change_page_renders_with_rows_present(admin_client, ledger, model):
    row = {
        "apikey": ledger.key,
        "file": ledger.file,
        "finetuningjob": ledger.job,
        "jobevent": ledger.event,
        "auditentry": ledger.audit,
    }[model]

    response = admin_client.get(url(model, "change", row.pk))

    assert response.status_code == 200


def test_changelist_date_hierarchy_drilldown_renders(admin_client, ledger):
    year = timezone.now().year

    response = admin_client.get(url("finetuningjob", "changelist"), {"created__year": year})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


def test_add_key_shows_the_raw_key_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(url("apikey", "add"), {"name": "bob"}, follow=True)

    assert response.status_code == 200
    key = ApiKey.objects.get(name="bob")
    shown = [m for m in messages_of(response) if "shown only this once" in m]
    assert len(shown) == 1
    raw = re.search(r"<code>(sk-ftp-[^<]+)</code>", shown[0]).group(1)
    assert key.hashed_key == hash_key(raw)
    assert raw.startswith(key.prefix)
    assert raw in response.content.decode()
    assert not any(raw in str(value) for value in ApiKey.objects.values_list().get())
    # Shown once: the next page no longer carries it.
    again = admin_client.get(url("apikey", "changelist"))
    assert raw not in again.content.decode()


def test_added_key_authenticates_against_the_api(admin_client, client):
    response = admin_client.post(url("apikey", "add"), {"name": "bob"}, follow=True)
    raw = re.search(r"<code>(sk-ftp-[^<]+)</code>", response.content.decode()).group(1)

    assert client.get("/v1/files", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_add_key_form_asks_only_for_a_name(admin_client):
    response = admin_client.get(url("apikey", "add"))

    assert list(response.context["adminform"].form.fields) == ["name"]


def test_key_pages_never_show_the_raw_key_or_its_hash(admin_client, ledger):
    pages = [
        admin_client.get(url("apikey", "changelist")),
        admin_client.get(url("apikey", "change", ledger.key.pk)),
        admin_client.get(url("auditentry", "change", ledger.audit.pk)),
    ]

    for page in pages:
        html = page.content.decode()
        assert ledger.key.prefix in html
        assert ledger.raw not in html
        assert ledger.key.hashed_key not in html


def test_key_spend_sums_its_jobs_costs_in_list_and_change_page(admin_client, ledger):
    make_job(owner=ledger.key, public_id="ftjob-2", remote_id="ftjob-2", cost_usd=Decimal("0.005"))
    make_job(owner=None, public_id="ftjob-3", remote_id="ftjob-3", cost_usd=Decimal("99"))
    other, _ = ApiKey.create_key("carol")

    listing = admin_client.get(url("apikey", "changelist")).content.decode()
    change = admin_client.get(url("apikey", "change", ledger.key.pk)).content.decode()

    assert "$1.255" in listing
    assert "$0.00<" in listing  # carol has no jobs
    assert "$1.255" in change
    assert "$99" not in listing


def test_key_changelist_query_count_does_not_grow_with_keys(
    admin_client, ledger, django_assert_max_num_queries
):
    for n in range(20):
        key, _ = ApiKey.create_key(f"user {n}")
        make_job(owner=key, public_id=f"ftjob-n{n}", remote_id=f"ftjob-n{n}", cost_usd=Decimal("1"))
    admin_client.get(url("apikey", "changelist"))  # warm the session

    with django_assert_max_num_queries(12):
        response = admin_client.get(url("apikey", "changelist"))

    assert response.context["cl"].result_count == 21


def test_key_name_can_be_changed_but_revoked_cannot_be_unset(admin_client, ledger):
    ledger.key.revoke()

    response = admin_client.post(
        url("apikey", "change", ledger.key.pk), {"name": "alice 2", "revoked": ""}
    )

    assert response.status_code == 302
    ledger.key.refresh_from_db()
    assert ledger.key.name == "alice 2"
    assert ledger.key.revoked is True


def test_revoke_action_revokes_the_selected_keys_only(admin_client, ledger):
    other, _ = ApiKey.create_key("carol")

    response = run_action(admin_client, "apikey", "revoke_selected", [ledger.key], confirm=True)

    assert response.status_code == 200
    ledger.key.refresh_from_db()
    other.refresh_from_db()
    assert ledger.key.revoked and ledger.key.revoked_at is not None
    assert not other.revoked
    assert "Revoked 1 key(s)." in messages_of(response)
    assert client_with(ledger.raw).status_code == 401


def client_with(raw: str):
    from django.test import Client

    return Client().get("/v1/files", HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_keys_cannot_be_deleted_from_the_admin(admin_client, ledger):
    response = admin_client.get(url("apikey", "delete", ledger.key.pk))
    changelist = admin_client.get(url("apikey", "changelist"))

    assert response.status_code == 403
    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert "revoke_selected" in actions
    assert "delete_selected" not in actions
    assert ApiKey.objects.filter(pk=ledger.key.pk).exists()


# --------------------------------------------------------------------------
# The read-only ledger
# --------------------------------------------------------------------------

LEDGER_MODELS = [File, FineTuningJob, JobEvent, AuditEntry]


@pytest.mark.parametrize("model", LEDGER_MODELS, ids=lambda m: m.__name__)
def test_ledger_models_cannot_be_added_changed_or_deleted(rf, admin_user, model):
    model_admin = admin.site.get_model_admin(model)
    request = rf.get("/")
    request.user = admin_user

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


@pytest.mark.parametrize("model", ["file", "finetuningjob", "jobevent", "auditentry"])
def test_ledger_add_and_delete_pages_are_forbidden(admin_client, ledger, model):
    row = {
        "file": ledger.file,
        "finetuningjob": ledger.job,
        "jobevent": ledger.event,
        "auditentry": ledger.audit,
    }[model]

    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.get(url(model, "delete", row.pk)).status_code == 403


def test_posting_to_a_job_change_page_changes_nothing(admin_client, ledger):
    response = admin_client.post(
        url("finetuningjob", "change", ledger.job.pk), {"status": "succeeded", "model": "x"}
    )

    assert response.status_code == 403
    ledger.job.refresh_from_db()
    assert ledger.job.status == "running"


def test_job_change_page_shows_event_history_above_the_pretty_payload(admin_client, ledger):
    response = admin_client.get(url("finetuningjob", "change", ledger.job.pk))

    html = response.content.decode()
    assert not response.context["inline_admin_formsets"]  # the history is a table instead
    history = html.index("class='ftp-history'")
    payload = html.index("&quot;nested&quot;: {\n    &quot;a&quot;: 1\n  }")
    assert history < payload
    assert "ftp-status-running'>running</span>" in html


def test_job_changelist_shows_the_specified_columns(admin_client, ledger):
    response = admin_client.get(url("finetuningjob", "changelist"))

    assert list(response.context["cl"].list_display)[1:] == [
        "job_id",
        "provider",
        "model_short",
        "state",
        "owner_link",
        "training_file_column",
        "cost",
        "created_column",
    ]


def test_audit_changelist_shows_the_specified_columns(admin_client, ledger):
    response = admin_client.get(url("auditentry", "changelist"))

    assert list(response.context["cl"].list_display) == [
        "created_column",
        "key_name",
        "request",
        "action",
        "object_short",
        "status",
        "upstream",
        "ms",
    ]


@pytest.mark.parametrize(
    "model, params, expected",
    [
        ("finetuningjob", {"status__exact": "succeeded", "upstream": "any"}, "ftjob-done"),
        ("finetuningjob", {"provider__exact": "openai", "upstream": "any"}, "ftjob-done"),
        # A job whose create failed is hidden unless asked for, by state or search.
        ("finetuningjob", {"ledger_state__exact": "failed"}, "ftjob-done"),
        ("finetuningjob", {"owner__id__exact": "OTHER", "upstream": "any"}, "ftjob-done"),
        ("finetuningjob", {"q": "remote-done"}, "ftjob-done"),
        ("finetuningjob", {"q": "davinci"}, "ftjob-done"),
        ("file", {"status__exact": "processed", "upstream": "any"}, "file-two"),
        ("file", {"provider__exact": "openai", "upstream": "any"}, "file-two"),
        ("file", {"owner__id__exact": "OTHER", "upstream": "any"}, "file-two"),
        ("file", {"ledger_state__exact": "failed"}, "file-two"),
        ("file", {"q": "validation.jsonl"}, "file-two"),
        ("file", {"q": "remote-two"}, "file-two"),
        ("auditentry", {"status_code": "502"}, "req-0002"),
        ("auditentry", {"action": "fine_tuning.jobs.create"}, "req-0002"),
        ("auditentry", {"provider": "openai"}, "req-0002"),
        ("auditentry", {"q": "req-0002"}, "req-0002"),
        ("apikey", {"active": "no"}, "carol"),
        ("apikey", {"q": "carol"}, "carol"),
        ("jobevent", {"source__exact": "cancel"}, "ftjob-done"),
        ("jobevent", {"q": "ftjob-done"}, "ftjob-done"),
    ],
)
def test_filters_and_search_select_the_expected_row(admin_client, ledger, model, params, expected):
    other, _ = ApiKey.create_key("carol")
    other.revoke()
    make_file(
        owner=other,
        public_id="file-two",
        remote_id="remote-two",
        provider="openai",
        provider_kind="openai",
        filename="validation.jsonl",
        status="processed",
        ledger_state=LedgerState.FAILED,
    )
    done = make_job(
        owner=other,
        public_id="ftjob-done",
        remote_id="remote-done",
        provider="openai",
        provider_kind="openai",
        model="davinci-002",
        status="succeeded",
        ledger_state=LedgerState.FAILED,
    )
    JobEvent.objects.create(job=done, from_status="running", to_status="cancelled", source="cancel")
    make_audit(
        key=other,
        request_id="req-0002",
        action="fine_tuning.jobs.create",
        provider="openai",
        status_code=502,
        upstream_status=500,
    )
    params = {k: str(other.pk) if v == "OTHER" else v for k, v in params.items()}

    response = admin_client.get(url(model, "changelist"), params)

    assert response.status_code == 200
    assert [label(row) for row in response.context["cl"].result_list] == [expected]


def label(row) -> str:
    """What identifies a row of any admin'd model in the assertions."""
    if isinstance(row, ApiKey):
        return row.name
    if isinstance(row, JobEvent):
        return row.job.public_id
    if isinstance(row, AuditEntry):
        return row.request_id
    return row.public_id


# --------------------------------------------------------------------------
# Job actions
# --------------------------------------------------------------------------


def test_refresh_action_updates_a_sandbox_job_and_records_an_event(admin_client, client):
    job = api_job(client)
    assert job.status == "running"  # the test sandbox validates and queues instantly
    # The ledger lags behind the provider, as it would between syncs.
    FineTuningJob.objects.filter(pk=job.pk).update(status="queued", raw_status="queued")

    response = run_action(admin_client, "finetuningjob", "refresh_selected", [job])

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "running"
    event = job.events.first()
    assert (event.from_status, event.to_status, event.source) == ("queued", "running", "retrieve")
    assert messages_of(response) == [f"Refreshed 1 job(s): {job.public_id} (running)."]


def test_cancel_action_cancels_a_sandbox_job(admin_client, client):
    job = api_job(client)

    response = run_action(admin_client, "finetuningjob", "cancel_selected", [job], confirm=True)

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "cancelled" and job.terminal
    assert job.events.first().source == "cancel"
    assert messages_of(response) == [f"Cancelled 1 job(s): {job.public_id} (cancelled)."]


def test_cancel_reports_the_providers_refusal(admin_client, client):
    job = api_job(client)
    # The ledger lags: the provider has finished the job meanwhile.
    run_action(admin_client, "finetuningjob", "cancel_selected", [job], confirm=True)
    FineTuningJob.objects.filter(pk=job.pk).update(status="running", terminal=False)

    response = run_action(admin_client, "finetuningjob", "cancel_selected", [job], confirm=True)

    assert response.status_code == 200
    [message] = messages_of(response)
    assert message.startswith(f"Could not cancel {job.public_id}: ")


def test_refresh_of_a_job_on_an_unconfigured_provider_is_an_error_message_not_a_500(
    admin_client, client
):
    good = api_job(client)
    orphan = make_job(public_id="ftjob-orphan", remote_id="ftjob-orphan", provider="gone")

    response = run_action(admin_client, "finetuningjob", "refresh_selected", [good, orphan])

    assert response.status_code == 200
    errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert len(errors) == 1
    assert "ftjob-orphan" in str(errors[0]) and "'gone'" in str(errors[0])
    assert f"Refreshed 1 job(s): {good.public_id}" in messages_of(response)[-1]
    orphan.refresh_from_db()
    assert orphan.status == "running"


def test_sync_button_runs_a_sync_pass_and_reports_its_counts(admin_client, client):
    job = api_job(client)
    FineTuningJob.objects.filter(pk=job.pk).update(status="queued", raw_status="queued")
    changelist = admin_client.get(url("finetuningjob", "changelist"))
    assert url("finetuningjob", "sync_active") in changelist.content.decode()

    response = admin_client.post(url("finetuningjob", "sync_active"), follow=True)

    assert response.redirect_chain[-1][0] == url("finetuningjob", "changelist")
    assert messages_of(response) == ["Synced active jobs: 1 checked, 1 changed, 0 failed."]
    job.refresh_from_db()
    assert job.status == "running"
    assert job.events.first().source == "sync"


def test_sync_button_lists_each_failed_job_as_an_error(admin_client):
    make_job(public_id="ftjob-orphan", remote_id="ftjob-orphan", provider="gone")

    response = admin_client.post(url("finetuningjob", "sync_active"), follow=True)

    assert response.status_code == 200
    summary, failure = get_messages(response.wsgi_request)
    assert str(summary) == "Synced active jobs: 1 checked, 0 changed, 1 failed."
    assert summary.level_tag == "warning"
    assert failure.level_tag == "error"
    assert str(failure).startswith("Could not sync ftjob-orphan: ")


def test_sync_view_refuses_get(admin_client):
    assert admin_client.get(url("finetuningjob", "sync_active")).status_code == 405
