"""The real ``openai`` SDK meets a budget refusal: a ``RateLimitError`` with
``insufficient_quota``, not retried (``x-should-retry: false``)."""

from __future__ import annotations

import io
from decimal import Decimal

import openai
import pytest

from ftproxy.models import ApiKey, AuditEntry, FineTuningJob
from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_gets_a_budget_refusal_once_and_does_not_retry(live_server, sandbox):
    key, raw = ApiKey.create_key("alice", budget_usd=Decimal("0"))
    client = openai.OpenAI(api_key=raw, base_url=f"{live_server.url}/v1", max_retries=2)
    try:
        uploaded = client.files.create(file=("t.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
        with pytest.raises(openai.RateLimitError) as caught:
            client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
    finally:
        client.close()

    error = caught.value
    assert error.status_code == 429 and error.code == "budget_exceeded"
    assert error.type == "insufficient_quota"
    assert "spend $0.00 of $0.00" in error.message
    assert error.response.headers["x-should-retry"] == "false"
    creates = AuditEntry.objects.filter(key=key, action="fine_tuning.jobs.create")
    assert list(creates.values_list("status_code", flat=True)) == [429]
    assert not FineTuningJob.objects.exists()
