"""``POST /v1/webhooks/<entry>``: OpenAI's signed webhooks refresh the job.

Signed here with the documented Standard Webhooks algorithm (HMAC-SHA256
of ``id.timestamp.body``, base64, ``v1,`` prefix); OpenAI is mocked at the
HTTP boundary with ``responses``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import responses

from ftproxy.config import load_config
from ftproxy.errors import ConfigError
from ftproxy.models import ApiKey, AuditEntry, FineTuningJob, JobEvent, WebhookEvent
from ftproxy.services.accounts import webhooks
from tests.conftest import write_config
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

UPSTREAM = "https://upstream.test/v1"
SECRET = "whsec_" + base64.b64encode(b"openai-signing-secret-0123456789").decode()


@pytest.fixture
def openai_gateway(gateway_config):
    entry = {
        "custom_llm_provider": "openai",
        "name": "prod",
        "api_key": "sk-upstream",
        "api_base": UPSTREAM,
        "max_retries": 0,
        "webhook_secret": SECRET,
    }
    plain = {**entry, "name": "plain"}
    del plain["webhook_secret"]
    return gateway_config({"finetune_settings": [entry, plain]})


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def signed(
    event: dict[str, Any], *, secret: str = SECRET, at: int | None = None, msg_id: str = "msg_1"
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event)
    timestamp = str(at if at is not None else int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    headers = {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": "v1," + base64.b64encode(digest).decode(),
    }
    return body.encode(), headers


def job_event(job_id: str, event_type: str = "fine_tuning.job.succeeded") -> dict[str, Any]:
    return {
        "id": "evt_abc",
        "object": "event",
        "type": event_type,
        "created_at": int(time.time()),
        "data": {"id": job_id},
    }


def post(client, body: bytes, headers: dict[str, str], path: str = "/v1/webhooks/prod"):
    return client.post(path, body, content_type="application/json", **headers)


def upstream_job(mocked, job_id: str, status: str) -> None:
    body = {
        "id": job_id,
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1_700_000_000,
        "finished_at": 1_700_000_500,
        "status": status,
        "training_file": "file-train",
        "trained_tokens": 1000,
        "hyperparameters": {"n_epochs": 3},
        "result_files": [],
    }
    mocked.add(responses.GET, f"{UPSTREAM}/fine_tuning/jobs/{job_id}", json=body)


@pytest.mark.parametrize("path", ["/v1/webhooks/prod", "/webhooks/prod"])
def test_a_signed_job_event_refreshes_the_job_at_once(openai_gateway, mocked, client, path):
    key, _ = ApiKey.create_key("alice")
    webhooks.set_webhook_url(key, "https://hooks.test/alice")
    ledger_job("ftjob-abc", "running", provider="prod", provider_kind="openai", owner=key)
    upstream_job(mocked, "ftjob-abc", "succeeded")

    response = post(client, *signed(job_event("ftjob-abc")), path=path)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "received": True,
        "action": "refreshed",
        "job": "ftjob-abc",
        "status": "succeeded",
    }
    job = FineTuningJob.objects.get()
    assert (job.status, job.trained_tokens) == ("succeeded", 1000)
    assert JobEvent.objects.get().source == "webhook"
    assert WebhookEvent.objects.get().event_type == "fine_tuning.job.succeeded"
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.object_id, audit.status_code) == (
        "webhooks.receive",
        "ftjob-abc",
        200,
    )
    assert (audit.key_id, audit.key_prefix, audit.provider) == (None, "", "prod")


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong secret",
        "changed body",
        "no signature",
        "no headers",
        "too old",
        "too new",
        "malformed signature",
        "not base64",
    ],
)
def test_a_bad_or_missing_signature_is_a_400_and_changes_nothing(
    openai_gateway, mocked, client, tamper
):
    ledger_job("ftjob-abc", "running", provider="prod", provider_kind="openai")
    upstream_job(mocked, "ftjob-abc", "succeeded")
    event = job_event("ftjob-abc")
    body, headers = signed(event)
    if tamper == "wrong secret":
        body, headers = signed(event, secret=webhooks.new_secret())
    elif tamper == "changed body":
        body = body.replace(b"succeeded", b"cancelled")
    elif tamper == "no signature":
        del headers["HTTP_WEBHOOK_SIGNATURE"]
    elif tamper == "no headers":
        headers = {}
    elif tamper == "too old":
        body, headers = signed(event, at=int(time.time()) - 6 * 60)
    elif tamper == "too new":
        body, headers = signed(event, at=int(time.time()) + 6 * 60)
    elif tamper == "malformed signature":
        headers["HTTP_WEBHOOK_SIGNATURE"] = "garbage"
    elif tamper == "not base64":
        headers["HTTP_WEBHOOK_SIGNATURE"] = "v1,***"

    response = post(client, body, headers)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_signature")
    assert len(mocked.calls) == 0
    assert FineTuningJob.objects.get().status == "running"
    assert not JobEvent.objects.exists()
    assert AuditEntry.objects.get().status_code == 400


def test_a_signature_within_five_minutes_is_accepted(openai_gateway, mocked, client):
    ledger_job("ftjob-abc", "running", provider="prod", provider_kind="openai")
    upstream_job(mocked, "ftjob-abc", "running")

    response = post(client, *signed(job_event("ftjob-abc"), at=int(time.time()) - 4 * 60))

    assert response.status_code == 200
    assert response.json()["action"] == "refreshed"


def test_an_unknown_job_is_ignored_with_a_200(openai_gateway, mocked, client):
    ledger_job("ftjob-abc", "running", provider="plain", provider_kind="openai")  # other entry

    response = post(client, *signed(job_event("ftjob-abc")))

    assert response.status_code == 200
    assert response.json() == {"received": True, "action": "ignored", "reason": "unknown job"}
    assert len(mocked.calls) == 0


def test_other_event_types_are_acknowledged_and_ignored(openai_gateway, mocked, client):
    ledger_job("batch_1", "running", provider="prod", provider_kind="openai")

    response = post(client, *signed(job_event("batch_1", "batch.completed")))

    assert response.status_code == 200 and response.json()["action"] == "ignored"
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("entry", ["plain", "nowhere"])
def test_an_entry_without_a_webhook_secret_has_no_receiver(openai_gateway, client, entry):
    response = post(client, *signed(job_event("ftjob-abc")), path=f"/v1/webhooks/{entry}")

    assert response.status_code == 404
    assert "webhook_secret" in response.json()["error"]["message"]


def test_a_signed_body_that_is_not_a_json_object_is_a_400(openai_gateway, client):
    body, headers = signed(job_event("x"))
    body = b"[1, 2]"
    timestamp = headers["HTTP_WEBHOOK_TIMESTAMP"]
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1." + timestamp.encode() + b"." + body, hashlib.sha256).digest()
    headers["HTTP_WEBHOOK_SIGNATURE"] = "v1," + base64.b64encode(digest).decode()

    response = post(client, body, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_webhook_secret_is_checked_at_load_and_only_openai_entries_take_it(tmp_path):
    def load(entry: dict[str, Any]):
        return load_config(write_config(tmp_path, {"finetune_settings": [entry]}))

    base = {"custom_llm_provider": "openai", "api_key": "sk-x"}
    assert load({**base, "webhook_secret": SECRET})["finetune_settings"][0]["webhook_secret"]
    with pytest.raises(ConfigError, match="webhook_secret: must be a non-empty string"):
        load({**base, "webhook_secret": 12})
    with pytest.raises(ConfigError, match="must be followed by base64") as caught:
        load({**base, "webhook_secret": "whsec_not*base64"})
    assert "not*base64" not in str(caught.value)
    azure = {
        "custom_llm_provider": "azure",
        "api_key": "k",
        "api_base": "https://x.openai.azure.com",
        "webhook_secret": SECRET,
    }
    with pytest.raises(ConfigError, match="unknown key 'webhook_secret'"):
        load(azure)


def test_unpriced_jobs_accepts_only_refuse_or_allow(tmp_path):
    def load(value: Any):
        path = write_config(tmp_path, {"ftproxy_settings": {"unpriced_jobs": value}})
        return load_config(path)

    assert load("allow")["unpriced_jobs"] == "allow"
    assert load_config(write_config(tmp_path, {}))["unpriced_jobs"] == "refuse"
    with pytest.raises(ConfigError, match="unpriced_jobs: must be one of refuse, allow"):
        load("maybe")


def test_a_provider_failure_while_refreshing_is_a_502_so_openai_retries(
    openai_gateway, mocked, client
):
    ledger_job("ftjob-abc", "running", provider="prod", provider_kind="openai")
    mocked.add(responses.GET, f"{UPSTREAM}/fine_tuning/jobs/ftjob-abc", status=500, json={})

    response = post(client, *signed(job_event("ftjob-abc")))

    assert response.status_code == 502
    assert FineTuningJob.objects.get().status == "running"
    assert AuditEntry.objects.get().upstream_status == 500
