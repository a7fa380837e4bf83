"""The key admin's budgets, quotas and webhook settings; the secret shown once."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from ftproxy.models import ApiKey, AuditEntry, KeyChange
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db


def url(view: str, *args) -> str:
    return reverse(f"admin:ftproxy_apikey_{view}", args=args)


def change_form(key: ApiKey, **values) -> dict[str, str]:
    data = {
        "name": key.name,
        "budget_usd": "" if key.budget_usd is None else str(key.budget_usd),
        "max_active_jobs": "" if key.max_active_jobs is None else str(key.max_active_jobs),
        "webhook_url": key.webhook_url,
    }
    return {**data, **values}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_spend_budget_and_remaining_show_on_the_key(admin_client):
    key, _ = ApiKey.create_key("alice", budget_usd=Decimal("50"), max_active_jobs=4)
    ledger_job("ftjob-1", "succeeded", owner=key, cost_usd=Decimal("12.5"))
    ledger_job("ftjob-2", "running", owner=key, estimated_cost_usd=Decimal("7.25"))
    ledger_job("ftjob-3", "cancelled", owner=key, estimated_cost_usd=Decimal("99"))
    ApiKey.create_key("bob")
    AuditEntry.objects.create(
        request_id="r1",
        key=key,
        key_prefix=key.prefix,
        method="POST",
        path="/v1/fine_tuning/jobs",
        action="fine_tuning.jobs.create",
        status_code=429,
        error="This job would exceed the API key's training budget",
    )

    listing = admin_client.get(url("changelist")).content.decode()
    change = admin_client.get(url("change", key.pk)).content.decode()

    assert "$19.75" in listing and "$50.00" in listing and "$30.25" in listing
    assert "no budget" in listing  # bob
    assert "$19.75" in change and "$30.25" in change
    assert "1 (limit 4)" in change
    assert re.search(r"Budget refusals:</label>\s*<div class=\"readonly\">1</div>", change)


def test_limits_and_webhook_url_are_set_on_the_change_page_and_the_secret_is_shown_once(
    admin_client,
):
    key, _ = ApiKey.create_key("alice")

    response = admin_client.post(
        url("change", key.pk),
        change_form(
            key,
            budget_usd="20.00",
            max_active_jobs="2",
            webhook_url="https://hooks.test/alice",
        ),
        follow=True,
    )

    key.refresh_from_db()
    assert (key.budget_usd, key.max_active_jobs) == (Decimal("20"), 2)
    assert key.webhook_url == "https://hooks.test/alice"
    shown = [m for m in messages_of(response) if "signing secret" in m]
    assert len(shown) == 1 and f"<code>{key.webhook_secret}</code>" in shown[0]
    page = admin_client.get(url("change", key.pk)).content.decode()
    assert key.webhook_secret not in page
    assert "set (shown once when made)" in page

    # Saving again without touching the URL keeps the secret and shows nothing.
    secret = key.webhook_secret
    again = admin_client.post(url("change", key.pk), change_form(key, name="alice 2"), follow=True)
    key.refresh_from_db()
    assert key.webhook_secret == secret
    assert secret not in again.content.decode()


def test_removing_the_webhook_url_drops_the_secret(admin_client):
    key, _ = ApiKey.create_key("alice")
    admin_client.post(url("change", key.pk), change_form(key, webhook_url="https://hooks.test/a"))
    key.refresh_from_db()

    admin_client.post(url("change", key.pk), change_form(key, webhook_url=""))

    key.refresh_from_db()
    assert (key.webhook_url, key.webhook_secret) == ("", "")


def test_rotate_action_shows_each_new_secret_once(admin_client):
    key, _ = ApiKey.create_key("alice")
    bare, _ = ApiKey.create_key("bob")
    admin_client.post(url("change", key.pk), change_form(key, webhook_url="https://hooks.test/a"))
    key.refresh_from_db()
    old = key.webhook_secret

    response = admin_client.post(
        url("changelist"),
        {"action": "rotate_webhook_secrets", ACTION_CHECKBOX_NAME: [key.pk, bare.pk]},
        follow=True,
    )

    key.refresh_from_db()
    assert key.webhook_secret != old
    shown = messages_of(response)
    assert sum(key.webhook_secret in m for m in shown) == 1
    assert any("1 key(s) have no webhook URL" in m for m in shown)
    assert ApiKey.objects.get(pk=bare.pk).webhook_secret == ""


def test_the_change_page_refuses_a_negative_budget_and_a_non_http_webhook_url(admin_client):
    key, _ = ApiKey.create_key("alice")

    response = admin_client.post(
        url("change", key.pk), change_form(key, budget_usd="-1", webhook_url="ftp://hooks.test/a")
    )

    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"budget_usd", "webhook_url"}
    key.refresh_from_db()
    assert (key.budget_usd, key.webhook_url, key.webhook_secret) == (None, "", "")


def test_changes_made_in_the_admin_are_in_the_trail_with_the_admin_user(admin_client, admin_user):
    key, _ = ApiKey.create_key("alice")
    admin_client.post(
        url("change", key.pk),
        change_form(
            key,
            budget_usd="20.00",
            expires_at_0="2030-01-01",
            expires_at_1="00:00:00",
            allowed_providers='["sandbox"]',
            allowed_models="null",
        ),
    )
    key.refresh_from_db()
    assert key.allowed_providers == ["sandbox"] and key.expires_at.year == 2030
    change = KeyChange.objects.get(key=key, action="updated")
    assert change.actor == f"admin user {admin_user.get_username()}"
    assert set(change.changes) == {"budget_usd", "expires_at", "allowed_providers"}
    page = admin_client.get(url("change", key.pk)).content.decode()
    assert "updated by admin user" in page

    admin_client.post(
        url("changelist"),
        {"action": "revoke_selected", ACTION_CHECKBOX_NAME: [key.pk], "post": "yes"},
    )
    assert KeyChange.objects.get(key=key, action="revoked").actor.startswith("admin user ")


def test_an_allowlist_naming_no_configured_entry_is_refused_on_the_form(admin_client):
    key, _ = ApiKey.create_key("alice")
    response = admin_client.post(
        url("change", key.pk), change_form(key, allowed_providers='["nope"]')
    )
    assert response.status_code == 200  # the form again, with the error
    assert "is not a configured provider entry" in response.content.decode()
    key.refresh_from_db()
    assert key.allowed_providers is None and not KeyChange.objects.exists()


def test_an_allowlist_that_is_not_set_shows_as_an_empty_box_and_stays_unset(admin_client):
    key, _ = ApiKey.create_key("alice")
    key.allowed_providers = ["sandbox"]
    key.save()
    page = admin_client.get(url("change", key.pk)).content.decode()
    models_box = re.search(r'<textarea name="allowed_models"[^>]*>(.*?)</textarea>', page, re.S)
    providers_box = re.search(
        r'<textarea name="allowed_providers"[^>]*>(.*?)</textarea>', page, re.S
    )
    assert models_box.group(1).strip() == ""  # not "null"
    assert providers_box.group(1).strip() == "[&quot;sandbox&quot;]"
    admin_client.post(
        url("change", key.pk),
        change_form(key, allowed_providers='["sandbox"]', allowed_models=""),
    )
    key.refresh_from_db()
    assert key.allowed_models is None and key.allowed_providers == ["sandbox"]
