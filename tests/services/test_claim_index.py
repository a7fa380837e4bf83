"""The sync's claim reads the partial index ``ftproxy_job_sync_claim``
(migration 0010) instead of sorting every active job: checked in the
claim query's plan on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ftproxy.models import FineTuningJob, LedgerState
from ftproxy.services.jobs.leases import candidates, claim_query

pytestmark = pytest.mark.django_db


def job(number: int, **fields) -> FineTuningJob:
    values = {
        "public_id": f"ftjob-{number}",
        "remote_id": f"ftjob-{number}",
        "provider": "openai",
        "provider_kind": "openai",
        "model": "gpt-4o-mini",
        "status": "running",
        "created_at": 1_700_000_000,
        "ledger_state": LedgerState.OK,
        **fields,
    }
    return FineTuningJob(**values)


def plan_of_the_claim() -> str:
    with transaction.atomic():  # SELECT … FOR UPDATE needs one
        query = claim_query(candidates(None, None, timezone.now()), 10, row_locking=True)
        return query.explain()


def test_the_claim_query_reads_the_claim_index_instead_of_sorting():
    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's (SQLite has no NULLS FIRST index to check)")
    now = timezone.now()
    final = [
        job(n, status="succeeded", terminal=True, synced_at=now - timedelta(hours=1))
        for n in range(6000)
    ]
    active = [
        job(n, synced_at=None if n % 3 == 0 else now - timedelta(seconds=n))
        for n in range(6000, 8000)
    ]
    FineTuningJob.objects.bulk_create(final + active, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {FineTuningJob._meta.db_table}")

    plan = plan_of_the_claim()

    assert "ftproxy_job_sync_claim" in plan, plan
    assert "Sort" not in plan, plan


def test_the_claim_takes_never_synced_jobs_first_then_the_oldest_synced():
    now = timezone.now()
    FineTuningJob.objects.bulk_create(
        [
            job(1, synced_at=now - timedelta(minutes=1)),
            job(2, synced_at=None),
            job(3, synced_at=now - timedelta(minutes=5)),
            job(4, status="succeeded", terminal=True, synced_at=None),
            job(5, synced_at=None, ledger_state=LedgerState.PENDING),
        ]
    )
    pks = list(claim_query(candidates(None, None, now), 10, row_locking=False))
    names = dict(FineTuningJob.objects.values_list("pk", "public_id"))
    assert [names[pk] for pk in pks] == ["ftjob-2", "ftjob-3", "ftjob-1"]
