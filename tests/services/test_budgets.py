"""Training budgets and active-job quotas per key (``services.accounts.budgets``).

The upstream is OpenAI's API mocked at the HTTP boundary; a refusal must
happen before anything is sent there. The concurrent-create race runs on
PostgreSQL only (SQLite has no row locks).
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import responses
from django.db import connection, connections, transaction
from prometheus_client import REGISTRY

from ftproxy.errors import QuotaExceeded
from ftproxy.models import ApiKey, AuditEntry, FineTuningJob
from ftproxy.services.accounts import budgets
from ftproxy.services.jobs.service import create_job
from ftproxy.services.ledger.context import CallContext, Caller
from tests.factories import ledger_file, ledger_job

UPSTREAM = "https://upstream.test/v1"
#: 1M tokens × 3 ("auto") epochs × $3 per 1M (gpt-4o-mini) = $9.
TOKENS = 1_000_000
ESTIMATE = Decimal("9")


@pytest.fixture
def openai_gateway(gateway_config):
    def apply(**settings: Any):
        entry = {
            "custom_llm_provider": "openai",
            "api_key": "sk-upstream",
            "api_base": UPSTREAM,
            "max_retries": 0,
        }
        return gateway_config(
            {
                "finetune_settings": [entry],
                "files_settings": [dict(entry)],
                **({"ftproxy_settings": settings} if settings else {}),
            }
        )

    apply()
    return apply


@pytest.fixture
def upstream():
    """A mocked OpenAI that creates jobs; ``upstream.calls`` lists every request."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        counter = iter(range(1, 1000))

        def create(request):
            body = json.loads(request.body)
            job_id = f"ftjob-up{next(counter)}"
            return 200, {}, json.dumps(remote_job(job_id, body["model"]))

        mocked.add_callback(responses.POST, f"{UPSTREAM}/fine_tuning/jobs", callback=create)
        yield mocked


def remote_job(job_id: str, model: str, status: str = "validating_files") -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "fine_tuning.job",
        "model": model,
        "created_at": 1_700_000_000,
        "status": status,
        "training_file": "file-train",
        "hyperparameters": {"n_epochs": "auto"},
        "result_files": [],
    }


def make_key(**limits: Any) -> tuple[ApiKey, str]:
    key, raw = ApiKey.create_key("alice", **limits)
    ledger_file("file-train", owner=key, estimated_tokens=TOKENS)
    return key, raw


def create(api_as, raw: str, model: str = "gpt-4o-mini", headers: dict | None = None):
    return api_as(raw).post_json(
        "/v1/fine_tuning/jobs", {"model": model, "training_file": "file-train"}, headers=headers
    )


def assert_refused(response, code: str) -> dict[str, Any]:
    assert response.status_code == 429, response.content
    assert response["x-should-retry"] == "false"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", code)
    return error


# --------------------------------------------------------------------------
# Refusals through the API
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_whose_estimate_would_pass_the_budget_is_refused_before_going_upstream(
    openai_gateway, upstream, api_as
):
    key, raw = make_key(budget_usd=Decimal("11"))
    ledger_job("ftjob-old", "succeeded", owner=key, cost_usd=Decimal("2.50"))

    response = create(api_as, raw)

    error = assert_refused(response, "budget_exceeded")
    assert "spend $2.50 of $11.00" in error["message"]
    assert "remaining $8.50" in error["message"]
    assert "estimate for this job $9.00" in error["message"]
    assert len(upstream.calls) == 0
    assert not FineTuningJob.objects.exclude(public_id="ftjob-old").exists()
    audit = AuditEntry.objects.get(action="fine_tuning.jobs.create")
    assert (audit.status_code, audit.key_id) == (429, key.pk)
    assert "budget" in audit.error


@pytest.mark.django_db
def test_a_job_within_the_budget_goes_through_and_the_next_one_is_refused(
    openai_gateway, upstream, api_as
):
    key, raw = make_key(budget_usd=Decimal("10"))

    first = create(api_as, raw)
    second = create(api_as, raw)

    assert first.status_code == 200, first.content
    assert FineTuningJob.objects.get(public_id=first.json()["id"]).estimated_cost_usd == ESTIMATE
    error = assert_refused(second, "budget_exceeded")
    assert "spend $9.00 of $10.00" in error["message"]
    assert len(upstream.calls) == 1


@pytest.mark.django_db
def test_spend_counts_costs_of_final_jobs_and_estimates_of_active_ones(openai_gateway):
    key, _ = make_key()
    ledger_job("ftjob-1", "succeeded", owner=key, cost_usd=Decimal("4"), estimated_cost_usd=9)
    ledger_job("ftjob-2", "running", owner=key, estimated_cost_usd=Decimal("1.5"))
    ledger_job("ftjob-3", "cancelled", owner=key, estimated_cost_usd=Decimal("7"))  # billed: ?
    ledger_job("ftjob-4", "failed", owner=key, cost_usd=Decimal("0.25"))  # billed what it knew
    ledger_job("ftjob-5", "running", owner=key, estimated_cost_usd=5, ledger_state="failed")
    ledger_job("ftjob-6", "", owner=key, estimated_cost_usd=Decimal("2"), ledger_state="pending")
    ledger_job("ftjob-7", "running", owner=None, estimated_cost_usd=Decimal("100"))

    assert budgets.spend_of(key) == Decimal("7.75")
    assert budgets.active_jobs_of(key) == 2
    assert budgets.with_spend(ApiKey.objects.filter(pk=key.pk)).get().spend == Decimal("7.75")


@pytest.mark.django_db
def test_a_job_of_unknown_price_is_refused_for_a_key_with_a_budget(
    openai_gateway, upstream, api_as
):
    _, raw = make_key(budget_usd=Decimal("1000"))

    response = create(api_as, raw, model="my-own-base-model")

    error = assert_refused(response, "price_unknown")
    assert "no price is known for model 'my-own-base-model'" in error["message"]
    assert "spend $0.00 of $1000.00" in error["message"]
    assert len(upstream.calls) == 0


@pytest.mark.django_db
def test_a_training_file_of_unknown_size_is_refused_as_price_unknown(
    openai_gateway, upstream, api_as
):
    key, raw = ApiKey.create_key("alice", budget_usd=Decimal("1000"))
    ledger_file("file-train", owner=key, estimated_tokens=None)

    error = assert_refused(create(api_as, raw), "price_unknown")

    assert "the training file's size in tokens is unknown" in error["message"]
    assert len(upstream.calls) == 0


@pytest.mark.django_db
def test_unpriced_jobs_allow_lets_a_key_with_a_budget_create_them(openai_gateway, upstream, api_as):
    openai_gateway(unpriced_jobs="allow")
    _, raw = make_key(budget_usd=Decimal("1"))

    response = create(api_as, raw, model="my-own-base-model")

    assert response.status_code == 200, response.content
    assert len(upstream.calls) == 1


@pytest.mark.django_db
def test_a_key_without_a_budget_creates_unpriced_jobs(openai_gateway, upstream, api_as):
    _, raw = make_key()

    assert create(api_as, raw, model="my-own-base-model").status_code == 200


@pytest.mark.django_db
def test_over_max_active_jobs_is_refused_and_final_jobs_do_not_count(
    openai_gateway, upstream, api_as
):
    key, raw = make_key(max_active_jobs=2)
    ledger_job("ftjob-a", "running", owner=key)
    ledger_job("ftjob-b", "succeeded", owner=key)
    ledger_job("ftjob-c", "cancelled", owner=key)

    first = create(api_as, raw)
    second = create(api_as, raw)

    assert first.status_code == 200, first.content
    error = assert_refused(second, "too_many_active_jobs")
    assert "2 active fine-tuning job(s)" in error["message"]
    assert "(2)" in error["message"]
    assert len(upstream.calls) == 1


@pytest.mark.django_db
def test_the_master_key_has_no_limits(openai_gateway, upstream, master):
    ledger_file("file-train", owner=None, estimated_tokens=TOKENS)

    assert (
        master.post_json(
            "/v1/fine_tuning/jobs", {"model": "no-price-model", "training_file": "file-train"}
        ).status_code
        == 200
    )


@pytest.mark.django_db
def test_a_refusal_frees_its_idempotency_key(openai_gateway, upstream, api_as):
    key, raw = make_key(budget_usd=Decimal("5"))
    headers = {"Idempotency-Key": "create-1"}

    refused = create(api_as, raw, headers=headers)
    ApiKey.objects.filter(pk=key.pk).update(budget_usd=Decimal("50"))
    again = create(api_as, raw, headers=headers)

    assert_refused(refused, "budget_exceeded")
    assert again.status_code == 200, again.content
    assert "Idempotent-Replayed" not in again
    assert len(upstream.calls) == 1


# --------------------------------------------------------------------------
# Two creates at once (PostgreSQL)
# --------------------------------------------------------------------------


def _sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_cannot_both_slip_under_the_budget(openai_gateway, upstream):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("needs row locks (PostgreSQL); SQLite has none")
    key, _ = make_key(budget_usd=Decimal("10"))  # room for one $9 job, not two
    outcomes: list[Any] = []

    def work() -> None:
        try:
            ctx = CallContext(caller=Caller(key=ApiKey.objects.get(pk=key.pk)))
            outcomes.append(
                create_job(ctx, {"model": "gpt-4o-mini", "training_file": "file-train"}, None)
            )
        except QuotaExceeded as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    # Hold the key's row while both creates start. Each one then waits:
    # with the budget lock, for that lock; without it, its check would read
    # spend 0 at once and only the job row's insert (its foreign key) would
    # wait, and both would go through.
    with transaction.atomic():
        ApiKey.objects.select_for_update().get(pk=key.pk)
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while _sessions_waiting_for_a_lock() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    for thread in threads:
        thread.join(30)

    assert len(outcomes) == 2
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert len(refused) == 1 and refused[0].code == "budget_exceeded"
    assert FineTuningJob.objects.filter(owner=key).count() == 1
    assert len(upstream.calls) == 1


def _refusals(code: str) -> float:
    return REGISTRY.get_sample_value("ftproxy_budget_refusals_total", {"code": code}) or 0.0


@pytest.mark.django_db
def test_each_refusal_counts_in_the_metrics_by_code(openai_gateway, upstream, api_as):
    budget_before, quota_before = _refusals("budget_exceeded"), _refusals("too_many_active_jobs")
    key, raw = make_key(budget_usd=Decimal("1"))
    assert_refused(create(api_as, raw), "budget_exceeded")
    ApiKey.objects.filter(pk=key.pk).update(budget_usd=None, max_active_jobs=0)
    assert_refused(create(api_as, raw), "too_many_active_jobs")

    assert _refusals("budget_exceeded") == budget_before + 1
    assert _refusals("too_many_active_jobs") == quota_before + 1


@pytest.mark.django_db
def test_a_succeeded_job_of_unknown_cost_keeps_counting_its_estimate(
    openai_gateway, upstream, api_as
):
    # The provider did not report trained tokens: the job was billed all the
    # same, so finishing must not give its estimate back to the budget.
    key, raw = make_key(budget_usd=Decimal("10"))
    ledger_job("ftjob-done", "succeeded", owner=key, cost_usd=None, estimated_cost_usd=ESTIMATE)
    assert budgets.spend_of(key) == ESTIMATE
    assert_refused(create(api_as, raw), "budget_exceeded")
    assert len(upstream.calls) == 0


@pytest.mark.django_db
def test_a_create_whose_outcome_is_unknown_counts_against_budget_and_quota(openai_gateway):
    # Flagged for an admin (it may be running upstream): it may cost, so it counts.
    key, _ = make_key()
    ledger_job("ftjob-u", "", owner=key, estimated_cost_usd=Decimal("3"), ledger_state="unknown")

    assert budgets.spend_of(key) == Decimal("3")
    assert budgets.active_jobs_of(key) == 1
