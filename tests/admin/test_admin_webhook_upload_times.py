"""The webhook and upload pages show times as the rest of the console does
(local, with seconds and zone; Unix times with their epoch beside them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from ftproxy.models import ApiKey, WebhookDelivery, WebhookEvent
from tests.factories import ledger_job, ledger_upload

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 12, 1, 21, 48, 33, tzinfo=UTC)


def test_webhook_events_and_deliveries_show_local_times_with_seconds(admin_client):
    key, _ = ApiKey.create_key("alice")
    job = ledger_job("ftjob-hooked", "succeeded", owner=key)
    event = WebhookEvent.objects.create(
        event_id="evt_1",
        key=key,
        job=job,
        event_type="fine_tuning.job.succeeded",
        payload={},
        next_attempt_at=WHEN,
        give_up_at=WHEN + timedelta(days=1),
        created=WHEN,
    )
    WebhookDelivery.objects.create(
        event=event, url="http://127.0.0.1:9/hook", attempted_at=WHEN, status_code=400
    )
    page = admin_client.get(reverse("admin:ftproxy_webhookevent_change", args=[event.pk]))
    html = page.content.decode()
    assert "2026-12-01 21:48:33 UTC" in html and "2026-12-02 21:48:33 UTC" in html
    assert "Dec. 1, 2026" not in html
    listing = admin_client.get(reverse("admin:ftproxy_webhookevent_changelist")).content.decode()
    assert "Created (UTC)" in listing and ">2026-12-01 21:48:33<" in listing
    deliveries = admin_client.get(reverse("admin:ftproxy_webhookdelivery_changelist"))
    assert ">2026-12-01 21:48:33<" in deliveries.content.decode()


def test_an_upload_shows_its_unix_times_as_dates(admin_client):
    upload = ledger_upload(
        "upload-abc", created_at=int(WHEN.timestamp()), expires_at=int(WHEN.timestamp()) + 3600
    )
    html = admin_client.get(reverse("admin:ftproxy_upload_change", args=[upload.pk])).content
    text = html.decode()
    assert "2026-12-01 21:48:33 UTC" in text and "2026-12-01 22:48:33 UTC" in text
    assert "master key" in text  # the owner, as on the other pages


def test_an_empty_value_reads_as_the_consoles_dash(admin_client):
    upload = ledger_upload("upload-empty")
    text = admin_client.get(reverse("admin:ftproxy_upload_change", args=[upload.pk])).content
    assert b'<div class="readonly">-</div>' not in text  # Django's default dash
    assert '<div class="readonly">—</div>'.encode() in text  # remote id, md5, error
