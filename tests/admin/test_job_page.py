"""A job's admin page shows what this job has, and what its provider has."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ledger_job

pytestmark = pytest.mark.django_db


def page(admin_client, job) -> str:
    response = admin_client.get(reverse("admin:ftproxy_finetuningjob_change", args=(job.pk,)))
    assert response.status_code == 200
    return response.content.decode()


def test_a_sandbox_jobs_page_never_shows_azures_training_tier(admin_client):
    job = ledger_job("ftjob-sandbox", provider="sandbox", training_type="globalstandard")
    assert "Training type" not in page(admin_client, job)


def test_an_azure_jobs_page_shows_its_training_tier(admin_client):
    job = ledger_job("ftjob-azure", provider="azure", training_type="globalstandard")
    html = page(admin_client, job)
    assert "Training type" in html
    assert "globalstandard" in html


def test_fields_without_a_value_are_left_out(admin_client):
    job = ledger_job("ftjob-bare", provider="openai", suffix="", seed=None)
    html = page(admin_client, job)
    assert "Suffix" not in html
    assert "Seed:" not in html
    assert "Validation file" not in html
    assert "Integrations" not in html
    assert "Model:" in html  # always shown


def test_fields_with_a_value_are_shown(admin_client):
    job = ledger_job(
        "ftjob-full",
        provider="openai",
        suffix="demo",
        seed=42,
        validation_file="file-valid",
        metadata={"team": "search"},
    )
    html = page(admin_client, job)
    for label in ("Suffix", "Seed", "Validation file", "Metadata"):
        assert label in html, label


def test_the_ledger_section_is_folded_unless_it_has_an_error_or_a_lease(admin_client):
    def ledger_fieldset(html: str) -> str:
        return html[: html.index(">Ledger<")].rsplit("<fieldset", 1)[1]

    quiet = page(admin_client, ledger_job("ftjob-quiet", provider="openai"))
    assert "collapse" in ledger_fieldset(quiet)
    failed = ledger_job("ftjob-failed", provider="openai", ledger_error="upstream said no")
    html = page(admin_client, failed)
    assert "collapse" not in ledger_fieldset(html)
    assert "upstream said no" in html
