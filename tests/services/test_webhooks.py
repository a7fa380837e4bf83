"""Outgoing webhooks (``services.accounts.webhooks``): queued with each status change,
signed so the real ``openai`` SDK verifies them, delivered by the sync round
and by ``ftproxy_deliver_webhooks``, retried, given up, resent.

The receiver and the upstream are mocked at the HTTP boundary with
``responses``. The two-worker test runs on PostgreSQL only.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import openai
import pytest
import requests
import responses
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY
from standardwebhooks import Webhook

from ftproxy.models import ApiKey, JobEvent, WebhookDelivery, WebhookEvent, WebhookState
from ftproxy.providers.data import RemoteJob
from ftproxy.services.accounts import webhooks
from ftproxy.services.ledger.status import change_status
from tests.factories import FINAL, ledger_job

UPSTREAM = "https://upstream.test/v1"
HOOK = "https://hooks.test/ftproxy"

pytestmark = pytest.mark.django_db


@pytest.fixture
def openai_gateway(gateway_config):
    entry = {
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream",
        "api_base": UPSTREAM,
        "max_retries": 0,
    }
    return gateway_config({"finetune_settings": [entry]})


class Receiver:
    """The key owner's endpoint: answers with ``self.answers`` in turn
    (an int status or an exception; the last one repeats) and keeps what
    it was sent."""

    def __init__(self, mocked: responses.RequestsMock):
        self.received: list[tuple[dict[str, str], str]] = []
        self.answers: list[Any] = [200]
        self._lock = threading.Lock()
        mocked.add_callback(responses.POST, HOOK, callback=self._answer)

    def _answer(self, request):
        with self._lock:
            self.received.append((dict(request.headers), request.body.decode()))
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer, {}, "ok" if answer < 300 else "receiver is down"

    @property
    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def receiver(mocked):
    return Receiver(mocked)


@pytest.fixture
def key():
    key, _ = ApiKey.create_key("alice")
    key.secret = webhooks.set_webhook_url(key, HOOK)
    return key


def remote(status: str, job_id: str = "ftjob-1") -> RemoteJob:
    return RemoteJob(
        remote_id=job_id,
        model="gpt-4o-mini-2024-07-18",
        status=status,
        raw_status=status,
        created_at=1_700_000_000,
        terminal=status in FINAL,
    )


def upstream_job(mocked, job_id: str, status: str) -> None:
    body = {
        "id": job_id,
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1_700_000_000,
        "status": status,
        "training_file": "file-train",
        "hyperparameters": {"n_epochs": 3},
        "result_files": [],
    }
    mocked.add(responses.GET, f"{UPSTREAM}/fine_tuning/jobs/{job_id}", json=body)


def make_due(**fields: Any) -> None:
    WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1), **fields)


# --------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------


def test_every_status_change_of_a_keys_job_queues_one_event(openai_gateway, key):
    job = ledger_job("ftjob-1", "validating_files", owner=key)

    change_status(job, remote("running"), source="sync")
    change_status(job, remote("running"), source="sync")  # no change, no event
    change_status(job, remote("succeeded"), source="sync")

    events = list(WebhookEvent.objects.order_by("id"))
    assert [e.event_type for e in events] == [
        "fine_tuning.job.running",
        "fine_tuning.job.succeeded",
    ]
    payload = events[1].payload
    assert set(payload) == {"id", "object", "type", "created_at", "data"}
    assert payload["id"] == events[1].event_id and payload["id"].startswith("evt_")
    assert (payload["object"], payload["data"]) == ("event", {"id": "ftjob-1"})
    assert abs(payload["created_at"] - timezone.now().timestamp()) < 5
    assert all(e.state == WebhookState.PENDING and e.key == key for e in events)


def test_jobs_of_keys_without_a_webhook_url_and_of_the_master_key_queue_nothing(openai_gateway):
    plain, _ = ApiKey.create_key("bob")
    change_status(ledger_job("ftjob-1", "queued", owner=plain), remote("running"), source="sync")
    change_status(ledger_job("ftjob-2", "queued"), remote("running", "ftjob-2"), source="sync")

    assert JobEvent.objects.count() == 2
    assert not WebhookEvent.objects.exists()


def test_the_event_is_written_in_the_same_transaction_as_the_job_event(openai_gateway, key):
    job = ledger_job("ftjob-1", "queued", owner=key)

    with pytest.raises(RuntimeError), transaction.atomic():
        change_status(job, remote("running"), source="sync")
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the process dies before commit")

    assert not JobEvent.objects.exists()
    assert not WebhookEvent.objects.exists()


# --------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------


def test_a_sync_round_delivers_the_event_signed_so_the_openai_sdk_unwraps_it(
    openai_gateway, key, mocked, receiver
):
    ledger_job("ftjob-1", "running", owner=key)
    upstream_job(mocked, "ftjob-1", "succeeded")
    out = io.StringIO()

    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())

    assert "webhooks: attempted=1 delivered=1 retrying=0 failed=0" in out.getvalue()
    [(headers, body)] = receiver.received
    assert headers["content-type"] == "application/json"
    event = openai.OpenAI(api_key="unused").webhooks.unwrap(body, headers, secret=key.secret)
    assert event.type == "fine_tuning.job.succeeded"
    assert event.data.id == "ftjob-1"
    assert event.id == headers["webhook-id"]
    row = WebhookEvent.objects.get()
    assert (row.state, row.attempts, row.last_status_code) == (WebhookState.DELIVERED, 1, 200)
    attempt = WebhookDelivery.objects.get()
    assert (attempt.status_code, attempt.succeeded, attempt.url) == (200, True, HOOK)


def test_a_wrong_secret_or_a_changed_body_fails_the_sdks_check(openai_gateway, key, receiver):
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    webhooks.deliver_due()
    [(headers, body)] = receiver.received
    client = openai.OpenAI(api_key="unused")

    client.webhooks.verify_signature(body, headers, secret=key.secret)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(body, headers, secret=webhooks.new_secret())
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(
            body.replace("running", "succeeded"), headers, secret=key.secret
        )
    assert Webhook(key.secret).verify(body, headers)["type"] == "fine_tuning.job.running"


def test_a_failed_delivery_is_retried_later_with_the_same_webhook_id(openai_gateway, key, receiver):
    receiver.answers = [500, requests.ConnectionError("refused"), 204]
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")

    first = webhooks.deliver_due()
    not_yet = webhooks.deliver_due()  # the retry is not due yet
    event = WebhookEvent.objects.get()
    assert (first.retrying, not_yet.attempted) == (1, 0)
    assert event.state == WebhookState.PENDING and event.attempts == 1
    wait = event.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < wait <= webhooks.FIRST_BACKOFF

    make_due()
    webhooks.deliver_due()
    event.refresh_from_db()
    assert event.attempts == 2 and timedelta(seconds=55) < event.next_attempt_at - timezone.now()
    make_due()
    webhooks.deliver_due()

    event.refresh_from_db()
    assert (event.state, event.attempts, event.last_status_code) == (WebhookState.DELIVERED, 3, 204)
    assert receiver.ids == [event.event_id] * 3
    attempts = list(WebhookDelivery.objects.order_by("id").values_list("status_code", "succeeded"))
    assert attempts == [(500, False), (None, False), (204, True)]
    errors = list(WebhookDelivery.objects.order_by("id").values_list("error", flat=True))
    assert errors[0] == "HTTP 500: receiver is down" and "ConnectionError" in errors[1]


def test_backoff_doubles_up_to_four_hours():
    seconds = [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 9, 10, 30)]

    assert seconds == [30, 60, 120, 7680, 14400, 14400]


def test_delivery_gives_up_after_the_retry_window(openai_gateway, key, receiver):
    receiver.answers = [503]
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    event = WebhookEvent.objects.get()
    assert event.give_up_at - event.created == timedelta(hours=24)

    # Late in the window: the retry is due at its end, not after it.
    WebhookEvent.objects.update(give_up_at=timezone.now() + timedelta(seconds=10))
    webhooks.deliver_due()
    event.refresh_from_db()
    assert event.state == WebhookState.PENDING and event.next_attempt_at == event.give_up_at

    make_due(give_up_at=timezone.now() - timedelta(seconds=1))
    result = webhooks.deliver_due()

    event.refresh_from_db()
    assert result.failed == 1 and event.state == WebhookState.FAILED
    assert event.attempts == 2 == WebhookDelivery.objects.count()
    assert webhooks.deliver_due().attempted == 0


def test_a_key_that_lost_its_webhook_url_fails_the_event_without_sending(
    openai_gateway, key, receiver
):
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    webhooks.set_webhook_url(key, None)

    assert webhooks.deliver_due().failed == 1
    assert receiver.received == []
    assert WebhookEvent.objects.get().state == WebhookState.FAILED
    assert ApiKey.objects.get(pk=key.pk).webhook_secret == ""


def test_the_admin_resends_a_failed_event_with_its_webhook_id(
    openai_gateway, key, receiver, admin_client
):
    receiver.answers = [410, 200]
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    WebhookEvent.objects.update(give_up_at=timezone.now())
    webhooks.deliver_due()
    event = WebhookEvent.objects.get()
    assert event.state == WebhookState.FAILED

    page = admin_client.get(reverse("admin:ftproxy_webhookevent_change", args=[event.pk]))
    response = admin_client.post(
        reverse("admin:ftproxy_webhookevent_changelist"),
        {"action": "resend_selected", ACTION_CHECKBOX_NAME: [event.pk]},
        follow=True,
    )
    result = webhooks.deliver_due()

    assert page.status_code == 200 and "HTTP 410" in page.content.decode()
    assert key.secret not in page.content.decode()
    assert response.status_code == 200
    assert "Queued 1 event(s)" in response.content.decode()
    event.refresh_from_db()
    assert result.delivered == 1 and event.state == WebhookState.DELIVERED
    assert event.give_up_at > timezone.now() + timedelta(hours=23)
    assert receiver.ids == [event.event_id] * 2
    listing = admin_client.get(reverse("admin:ftproxy_webhookdelivery_changelist"))
    assert listing.status_code == 200 and listing.context["cl"].result_count == 2


def test_an_unexpected_error_postpones_that_event_and_the_others_go_out(
    openai_gateway, key, receiver
):
    broken, _ = ApiKey.create_key("bob")
    webhooks.set_webhook_url(broken, HOOK)
    ApiKey.objects.filter(pk=broken.pk).update(webhook_secret="whsec_")  # cannot sign
    change_status(ledger_job("ftjob-1", "queued", owner=broken), remote("running"), source="sync")
    change_status(
        ledger_job("ftjob-2", "queued", owner=key), remote("running", "ftjob-2"), source="sync"
    )

    result = webhooks.deliver_due()

    assert result.delivered == 1 and len(receiver.received) == 1
    postponed = WebhookEvent.objects.get(key=broken)
    assert postponed.state == WebhookState.PENDING and postponed.lease_owner == ""
    assert postponed.next_attempt_at > timezone.now()


def test_the_deliver_command_only_delivers(openai_gateway, key, mocked, receiver):
    ledger_job("ftjob-2", "running", owner=key)  # would need an upstream call to sync
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    out = io.StringIO()

    call_command("ftproxy_deliver_webhooks", stdout=out)

    assert out.getvalue().strip() == "webhooks: attempted=1 delivered=1 retrying=0 failed=0"
    assert [call.request.method for call in mocked.calls] == ["POST"]


def test_a_receiver_gets_ten_seconds_and_a_timeout_is_retried(openai_gateway, key, mocked):
    seen: dict[str, Any] = {}

    def slow(request):
        seen["timeout"] = request.req_kwargs["timeout"]
        raise requests.ReadTimeout("read timed out")

    mocked.add_callback(responses.POST, HOOK, callback=slow)
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")

    assert webhooks.deliver_due().retrying == 1
    assert seen["timeout"] == webhooks.DELIVERY_TIMEOUT == 10
    assert "ReadTimeout" in WebhookDelivery.objects.get().error


# --------------------------------------------------------------------------
# Two workers at once (PostgreSQL)
# --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_deliver_each_event_once(openai_gateway, key, receiver):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("needs SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL); SQLite has no row locks")
    for n in range(30):
        job = ledger_job(f"ftjob-{n}", "queued", owner=key)
        change_status(job, remote("running", f"ftjob-{n}"), source="sync")
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(webhooks.deliver_due(batch_size=3))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert Counter(receiver.ids) == Counter(
        dict.fromkeys(WebhookEvent.objects.values_list("event_id", flat=True), 1)
    )
    assert len(receiver.ids) == 30 and sum(r.delivered for r in results) == 30
    assert WebhookDelivery.objects.count() == 30
    assert not WebhookEvent.objects.exclude(state=WebhookState.DELIVERED).exists()
    bodies = {json.loads(body)["data"]["id"] for _, body in receiver.received}
    assert len(bodies) == 30


class SummaryWatcher(io.StringIO):
    """Command output that tells when a round's summary line was written."""

    def __init__(self):
        super().__init__()
        self.summarised = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if text.startswith("webhooks:"):
            self.summarised.set()
        return written


def test_the_deliver_command_watches_until_sigterm(openai_gateway, key, receiver):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")
    default = signal.getsignal(signal.SIGTERM)
    out = SummaryWatcher()

    def stop_after_the_first_round() -> None:
        if out.summarised.wait(10) and signal.getsignal(signal.SIGTERM) is not default:
            os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Thread(target=stop_after_the_first_round)
    timer.start()
    started = time.monotonic()
    call_command("ftproxy_deliver_webhooks", "--watch", "--interval", "30", stdout=out)
    timer.join()

    assert time.monotonic() - started < 10
    assert out.getvalue().splitlines() == ["webhooks: attempted=1 delivered=1 retrying=0 failed=0"]
    assert signal.getsignal(signal.SIGTERM) is default


def _deliveries(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("ftproxy_webhook_deliveries_total", {"outcome": outcome}) or 0.0
    )


def test_each_delivery_attempt_counts_in_the_metrics_by_outcome(openai_gateway, key, receiver):
    retrying, delivered = _deliveries("retrying"), _deliveries("delivered")
    receiver.answers = [500, 204]
    change_status(ledger_job("ftjob-1", "queued", owner=key), remote("running"), source="sync")

    webhooks.deliver_due()
    make_due()
    webhooks.deliver_due()

    assert _deliveries("retrying") == retrying + 1
    assert _deliveries("delivered") == delivered + 1


def test_an_unreachable_receiver_is_tried_once_per_round_and_other_keys_still_get_theirs(
    openai_gateway, key, mocked
):
    # A receiver that cannot be reached costs up to DELIVERY_TIMEOUT per
    # attempt: its key's other events wait for the next round.
    other, _ = ApiKey.create_key("bob")
    webhooks.set_webhook_url(other, "https://other.test/hook")
    calls = Counter()

    def down(request):
        calls["down"] += 1
        raise requests.ConnectionError("connection refused")

    def up(request):
        calls["up"] += 1
        return 204, {}, ""

    mocked.add_callback(responses.POST, HOOK, callback=down)
    mocked.add_callback(responses.POST, "https://other.test/hook", callback=up)
    for n in range(3):
        change_status(
            ledger_job(f"ftjob-a{n}", "queued", owner=key),
            remote("running", f"ftjob-a{n}"),
            source="sync",
        )
    change_status(
        ledger_job("ftjob-b", "queued", owner=other), remote("running", "ftjob-b"), source="sync"
    )
    make_due()

    result = webhooks.deliver_due()

    assert calls == {"down": 1, "up": 1}
    assert (result.attempted, result.delivered, result.retrying) == (2, 1, 1)
    waiting = WebhookEvent.objects.filter(key=key, attempts=0)
    assert waiting.count() == 2
    assert all(e.state == WebhookState.PENDING and not e.lease_owner for e in waiting)
