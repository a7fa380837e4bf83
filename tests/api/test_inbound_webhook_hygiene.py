"""``POST /v1/webhooks/<entry>`` with text no database stores (NUL, lone
surrogates) or JSON nested deeper than Python parses: a 400, never a 500,
signed or not, in the body, the path or the headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from ftproxy.models import AuditEntry
from tests.api.test_inbound_webhooks import SECRET, mocked, openai_gateway, post, signed

pytestmark = pytest.mark.django_db
__all__ = ["mocked", "openai_gateway"]  # fixtures


def signed_raw(body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    timestamp = str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "HTTP_WEBHOOK_ID": msg_id,
        "HTTP_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_WEBHOOK_SIGNATURE": "v1," + base64.b64encode(digest).decode(),
    }


BODIES = {
    "NUL in the job id": b'{"type": "fine_tuning.job.succeeded", "data": {"id": "ftjob-\\u0000"}}',
    "NUL in the type": b'{"type": "fine_tuning.job.succeeded\\u0000", "data": {"id": "x"}}',
    "surrogate in the job id": b'{"type": "fine_tuning.job.failed", "data": {"id": "j\\ud800"}}',
    "surrogate in the type": b'{"type": "fine_tuning.job.\\udfff", "data": {"id": "ftjob-1"}}',
    "deep arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep objects": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "not UTF-8": b'{"type": "\xff", "data": {}}',
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_signed_body_no_database_stores_is_a_400(client, openai_gateway, mocked, name):
    body = BODIES[name]
    response = post(client, body, signed_raw(body))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_json"
    assert AuditEntry.objects.filter(status_code=400).exists()


@pytest.mark.parametrize(
    "path", ["/v1/webhooks/%00", "/v1/webhooks/prod%00", "/v1/webhooks/%ED%A0%80x"]
)
def test_a_bad_entry_name_is_a_4xx(client, openai_gateway, mocked, path):
    body, headers = signed({"type": "x"})
    assert 400 <= post(client, body, headers, path=path).status_code < 500


@pytest.mark.parametrize(
    "header", ["HTTP_WEBHOOK_ID", "HTTP_WEBHOOK_TIMESTAMP", "HTTP_WEBHOOK_SIGNATURE"]
)
def test_a_nul_in_a_signature_header_is_a_400(client, openai_gateway, mocked, header):
    body, headers = signed({"type": "x"})
    headers[header] += "\x00"
    assert post(client, body, headers).status_code == 400
