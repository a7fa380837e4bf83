"""A ``pending`` row is settled once its own entry's request limit is
over, not the longest of all entries."""

from __future__ import annotations

import json

import pytest
import responses
from django.utils import timezone

from ftproxy.models import FineTuningJob, LedgerState
from ftproxy.services.ledger.reconcile import reconcile_pending, request_limit

pytestmark = pytest.mark.django_db

SHORT = "https://short.openai.test/v1"
LONG = "https://long.openai.test/v1"


def entry(name: str, base: str, **limits) -> dict:
    return {
        "name": name,
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream-secret",
        "api_base": base,
        **limits,
    }


@pytest.fixture
def two_entries(gateway_config):
    gateway_config(
        {
            "finetune_settings": [
                entry("short", SHORT, timeout=4, max_retries=2),
                entry("long", LONG, timeout=600, max_retries=0),
            ]
        }
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for base in (SHORT, LONG):  # no job carries the gateway's id: provably absent
            rsps.get(
                f"{base}/fine_tuning/jobs",
                body=json.dumps({"object": "list", "data": [], "has_more": False}),
            )
        yield rsps


def pending_job(provider: str, seconds_ago: int) -> FineTuningJob:
    """A create whose request started ``seconds_ago`` and never answered."""
    started = int(timezone.now().timestamp()) - seconds_ago
    return FineTuningJob.objects.create(
        public_id=f"ftjob-{provider}-{seconds_ago}",
        provider=provider,
        provider_kind="openai",
        model="gpt-4o-mini",
        status="",
        created_at=started,
        ledger_state=LedgerState.PENDING,
    )


def test_a_row_is_settled_after_its_own_entrys_limit(two_entries):
    from ftproxy.conf import FINE_TUNING, gateway

    short = gateway().provider(FINE_TUNING, "short")
    assert request_limit(short).total_seconds() == 4 * 3 + 60
    assert request_limit().total_seconds() == 600 + 60
    over = pending_job("short", 80)  # past its own 72 s
    young = pending_job("short", 30)  # its request may still run
    other = pending_job("long", 80)  # 80 s is nothing for a 600 s entry

    counts = reconcile_pending()

    assert counts == {"linked": 0, "failed": 1, "flagged": 0, "open": 0}
    over.refresh_from_db()
    young.refresh_from_db()
    other.refresh_from_db()
    assert over.ledger_state == LedgerState.FAILED
    assert young.ledger_state == LedgerState.PENDING
    assert other.ledger_state == LedgerState.PENDING


def test_a_row_of_an_entry_no_longer_configured_waits_for_the_longest_limit(two_entries):
    gone_young = pending_job("removed", 100)
    gone_old = pending_job("removed", 700)

    counts = reconcile_pending()

    assert counts["flagged"] == 1  # its entry is gone: an admin must look
    gone_young.refresh_from_db()
    gone_old.refresh_from_db()
    assert gone_young.ledger_state == LedgerState.PENDING
    assert gone_old.ledger_state == LedgerState.UNKNOWN
