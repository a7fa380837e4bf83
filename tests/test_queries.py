"""The compiled ledger lookups and inserts read and write what Django would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from ftproxy import queries
from ftproxy.models import ApiKey, AuditEntry, File, FineTuningJob
from ftproxy.services.ledger.common import find
from ftproxy.services.ledger.context import MASTER, Caller

from .factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db


class Ctx:
    def __init__(self, caller):
        self.caller = caller


@pytest.fixture(autouse=True)
def _cold_cache(monkeypatch):
    monkeypatch.setattr(queries, "_MATCHES", {})


def as_dict(row):
    return {**model_to_dict(row), "id": row.pk, "_class": type(row)}


def test_a_compiled_lookup_reads_the_row_as_django_does(django_assert_num_queries):
    owner = ApiKey.create_key("a")[0]
    job = ledger_job(
        "ftjob-1", owner=owner, metadata={"k": "v"}, estimated_cost_usd=Decimal("1.25")
    )
    ledger_job("ftjob-2")
    expected = as_dict(FineTuningJob.objects.get(pk=job.pk))

    first = queries.first_match(FineTuningJob.objects.all(), public_id="ftjob-1")
    assert len(queries._MATCHES) == 1  # compiled on first use
    with django_assert_num_queries(1):
        again = queries.first_match(FineTuningJob.objects.all(), public_id="ftjob-1")
    assert as_dict(first) == as_dict(again) == expected
    assert again.created_at == 1_700_000_000 and again.metadata == {"k": "v"}
    assert again.owner == owner and not again._state.adding

    other = queries.first_match(FineTuningJob.objects.all(), public_id="ftjob-2")
    assert other.public_id == "ftjob-2"  # the new value, not the compiled one
    assert queries.first_match(FineTuningJob.objects.all(), public_id="ftjob-none") is None
    assert len(queries._MATCHES) == 1


def test_the_querysets_own_filters_and_deferred_fields_are_part_of_the_shape():
    ledger_file("file-kept")
    ledger_file("file-gone", deleted=True)
    live = File.objects.filter(deleted=False)
    assert queries.first_match(live, public_id="file-kept").public_id == "file-kept"
    assert queries.first_match(live, public_id="file-gone") is None  # compiled filter holds
    everything = File.objects.all()
    assert queries.first_match(everything, public_id="file-gone").public_id == "file-gone"
    slim = queries.first_match(File.objects.defer("provider_payload"), public_id="file-kept")
    assert "provider_payload" in slim.get_deferred_fields()
    assert len(queries._MATCHES) == 3


def test_a_key_never_finds_another_keys_row_through_a_compiled_lookup():
    alice, bob = ApiKey.create_key("alice")[0], ApiKey.create_key("bob")[0]
    ledger_job("ftjob-alice", owner=alice)
    ledger_job("ftjob-bob", owner=bob)
    jobs = FineTuningJob.objects.all()
    assert find(jobs, Ctx(Caller(key=alice)), "ftjob-alice").public_id == "ftjob-alice"
    assert find(jobs, Ctx(Caller(key=bob)), "ftjob-alice") is None
    assert find(jobs, Ctx(Caller(key=bob)), "ftjob-bob").public_id == "ftjob-bob"
    assert find(jobs, Ctx(Caller(key=alice)), "ftjob-bob") is None
    assert find(jobs, Ctx(MASTER), "ftjob-bob").public_id == "ftjob-bob"


def test_joins_are_left_to_django():
    ledger_job("ftjob-1", owner=ApiKey.create_key("a")[0])
    row = queries.first_match(FineTuningJob.objects.select_related("owner"), public_id="ftjob-1")
    assert row.owner.name == "a"
    assert queries._MATCHES == {}


def test_an_inserted_row_is_the_row_django_would_insert():
    key = ApiKey.create_key("a")[0]
    fields = dict(
        request_id="req_1",
        key=key,
        key_prefix=key.prefix,
        method="GET",
        path="/v1/fine_tuning/jobs/ftjob-1",
        action="fine_tuning.jobs.retrieve",
        status_code=200,
        upstream_status=None,
        duration_ms=7,
        error="é ✓",
    )
    queries.insert_row(AuditEntry(**fields))
    AuditEntry.objects.create(**{**fields, "request_id": "req_2"})
    inserted, created = AuditEntry.objects.order_by("id")
    assert inserted.created is not None
    assert {**model_to_dict(inserted), "request_id": "-", "created": None} == {
        **model_to_dict(created),
        "request_id": "-",
        "created": None,
        "id": inserted.id,
    }


def test_locks_values_none_and_subqueries_are_left_to_django():
    ledger_job("ftjob-1")
    jobs = FineTuningJob.objects.all()
    assert queries.first_match(jobs, public_id="ftjob-1") is not None  # a plain shape, cached
    assert len(queries._MATCHES) == 1
    values = queries.first_match(jobs.values("public_id"), public_id="ftjob-1")
    assert values == {"public_id": "ftjob-1"}
    assert queries.first_match(jobs, public_id="ftjob-1", suffix=None).public_id == "ftjob-1"
    live_files = File.objects.filter(deleted=False).values("public_id")
    assert (
        queries.first_match(jobs.filter(training_file__in=live_files), public_id="ftjob-1") is None
    )
    assert queries.first_match(jobs.none(), public_id="ftjob-1") is None
    assert len(queries._MATCHES) == 1  # none of these compiled a shape


@pytest.mark.django_db(transaction=True)
def test_a_row_lock_is_never_served_from_a_compiled_plain_lookup():
    from django.db import connection, transaction

    ledger_job("ftjob-1")
    queries.first_match(FineTuningJob.objects.all(), public_id="ftjob-1")
    with transaction.atomic(), connection.execute_wrapper(_record_sql):
        locked = queries.first_match(FineTuningJob.objects.select_for_update(), public_id="ftjob-1")
    assert locked.public_id == "ftjob-1"
    if connection.features.has_select_for_update:
        assert any("FOR UPDATE" in sql for sql in _SEEN)


_SEEN: list[str] = []


def _record_sql(execute, sql, params, many, context):
    _SEEN.append(sql)
    return execute(sql, params, many, context)
