"""A create refused before any job existed upstream (here a master-key job
on a file the provider does not know, answered 400) leaves a ledger row for
the audit trail: marked, hidden from the admin's default job list (a filter
shows it), never a failed job or spend on the dashboard, never in the
caller's list, never counted against a budget."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from ftproxy.models import ApiKey, FineTuningJob, LedgerState
from ftproxy.services.accounts.budgets import active_jobs_of, spend_of
from tests.factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:ftproxy_finetuningjob_changelist")


@pytest.fixture
def refused(sandbox, master) -> FineTuningJob:
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-nobody-knows"},
    )
    assert response.status_code == 400, response.content
    row = FineTuningJob.objects.get()
    assert row.public_id not in response.content.decode()  # the client never got the id
    return row


def listed(admin_client, **params) -> list[str]:
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    return sorted(job.public_id for job in response.context["cl"].result_list)


def test_the_row_is_kept_and_marked(refused):
    assert refused.ledger_state == LedgerState.FAILED
    assert refused.ledger_error  # what the provider said, for the audit trail
    assert refused.reached_provider  # it was sent; the provider refused it


def test_the_admin_hides_it_by_default_and_a_filter_shows_it(admin_client, refused):
    real = ledger_job("ftjob-real", "running", provider="sandbox")
    assert listed(admin_client) == [real.public_id]
    assert listed(admin_client, upstream="never") == [refused.public_id]
    assert listed(admin_client, upstream="any") == sorted([real.public_id, refused.public_id])
    assert listed(admin_client, ledger_state__exact="failed") == [refused.public_id]
    assert listed(admin_client, q=refused.public_id) == [refused.public_id]  # a search finds it
    html = admin_client.get(CHANGELIST).content.decode()
    assert "never created (client got no id)" in html


def test_the_dashboard_counts_it_neither_as_failed_nor_as_spend(admin_client, refused):
    # Even a refused row that carries a provider's "failed" and a cost.
    FineTuningJob.objects.filter(pk=refused.pk).update(
        status="failed", cost_usd=Decimal("3.00"), finished_at=refused.created_at
    )
    response = admin_client.get("/admin/ftproxy/dashboard/")
    assert response.status_code == 200
    assert refused.public_id not in response.content.decode()
    assert response.context["spend"]["per_key"] == []
    assert response.context["jobs"]["rows"] == []


def test_callers_and_budgets_never_see_it(sandbox, master, api_as, make_key):
    raw = make_key("alice")
    alice = api_as(raw)
    response = alice.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-nobody-knows"},
    )
    assert response.status_code in (400, 404), response.content
    key = ApiKey.objects.get()
    FineTuningJob.objects.update(owner=key, estimated_cost_usd=Decimal("5.00"))
    assert alice.get("/v1/fine_tuning/jobs").json()["data"] == []
    assert master.get("/v1/fine_tuning/jobs").json()["data"] == []
    assert spend_of(key) == 0
    assert active_jobs_of(key) == 0


def test_the_file_list_hides_files_never_created_upstream_by_default(admin_client):
    kept = ledger_file("file-kept")
    never = ledger_file("file-never", ledger_state=LedgerState.FAILED, remote_id="")
    changelist = reverse("admin:ftproxy_file_changelist")

    def files(**params) -> list[str]:
        response = admin_client.get(changelist, params)
        assert response.status_code == 200
        return sorted(row.public_id for row in response.context["cl"].result_list)

    assert files() == [kept.public_id]
    assert files(upstream="never") == [never.public_id]
    assert files(upstream="any") == sorted([kept.public_id, never.public_id])
    assert files(q=never.public_id) == [never.public_id]
