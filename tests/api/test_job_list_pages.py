"""The jobs list read from the ledger: what it answers, and that each page
is read with one index range whatever the ledger's size (and however deep
the cursor)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ftproxy.api import shapes
from ftproxy.api.shapes import shaped
from ftproxy.models import ApiKey, FineTuningJob
from tests.factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db

TABLE = FineTuningJob._meta.db_table


@pytest.fixture
def alice(sandbox, api_as):
    key, raw = ApiKey.create_key("alice")
    return key, api_as(raw)


def page_query(queries) -> str:
    """The SELECT that read the page (the one with a LIMIT over the table)."""
    selects = [
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'FROM "{TABLE}"' in q["sql"]
    ]
    return selects[-1]


def plan(sql: str) -> str:
    """The query plan of ``sql`` (with the parameters the capture inlined),
    as one text; on PostgreSQL with sequential scans off, so that a small
    test table is read through its index as a large ledger is."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            return json.dumps(cursor.fetchone()[0])
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return " ".join(str(row[-1]) for row in cursor.fetchall())


def index_conditions(node: dict) -> list[str]:
    """The index conditions of a PostgreSQL plan and its sub-plans."""
    found = [node["Index Cond"]] if "Index Cond" in node else []
    for child in node.get("Plans", []):
        found += index_conditions(child)
    return found


def test_a_page_after_a_cursor_starts_the_index_at_the_cursor(alice):
    """The cursor condition is a range of the index: a cursor deep in a
    large ledger does not read every newer row first (PostgreSQL reads
    ``a < x OR (a = x AND b < y)`` as a filter only, the row comparison
    ``(a, b) < (x, y)`` as an index condition; SQLite finds the range
    either way)."""
    key, api = alice
    for i in range(30):
        ledger_job(f"ftjob-deep-{i}", owner=key, created_at=1_700_000_000 + i)
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/v1/fine_tuning/jobs", {"limit": 5, "after": "ftjob-deep-10"})
    assert response.status_code == 200, response.content
    shown = [job["id"] for job in response.json()["data"]]
    assert shown == [f"ftjob-deep-{i}" for i in range(9, 4, -1)]
    text = plan(page_query(queries))
    if connection.vendor == "postgresql":
        conditions = " ".join(index_conditions(json.loads(text)[0]["Plan"]))
        assert "ROW(created_at, id) < ROW(" in conditions, text
    else:
        assert "created_at<" in text.replace(" ", ""), text


def test_pages_through_jobs_created_in_the_same_second_in_order(alice):
    key, api = alice
    ids = []
    for i in range(7):  # three share each second
        ids.append(ledger_job(f"ftjob-tie-{i}", owner=key, created_at=1_700_000_000 + i // 3))
    expected = [job.public_id for job in sorted(ids, key=lambda j: (-j.created_at, -j.id))]
    seen, after = [], None
    while True:
        body = api.get("/v1/fine_tuning/jobs", {"limit": 2, **({"after": after} if after else {})})
        data = body.json()
        seen += [j["id"] for j in data["data"]]
        if not data["has_more"]:
            break
        after = data["data"][-1]["id"]
    assert seen == expected


def test_files_page_after_a_cursor_in_both_orders_with_ties(alice):
    key, api = alice
    rows = [
        ledger_file(f"file-tie-{i}", owner=key, created_at=1_700_000_000 + i // 2, bytes=1)
        for i in range(5)
    ]
    newest_first = [f.public_id for f in sorted(rows, key=lambda f: (-f.created_at, -f.id))]
    for order, expected in (("desc", newest_first), ("asc", newest_first[::-1])):
        after = expected[1]
        body = api.get("/v1/files", {"limit": 10, "order": order, "after": after}).json()
        assert [f["id"] for f in body["data"]] == expected[2:], order


def test_the_list_reads_only_the_columns_it_answers_with(alice):
    key, api = alice
    job = ledger_job(
        "ftjob-shown",
        owner=key,
        hyperparameters={"n_epochs": 2},
        metadata={"team": "search"},
        method={"type": "supervised"},
        upstream_fields={"user_provided_suffix": "s", "status": "not this one"},
        provider_payload={"raw": "x" * 1000},
        requested={"hyperparameters": {"n_epochs": 2}},
    )
    with CaptureQueriesContext(connection) as queries:
        data = api.get("/v1/fine_tuning/jobs").json()["data"]
    assert data == [shaped(shapes.FineTuningJob, FineTuningJob.objects.get(pk=job.pk))]
    assert data[0]["user_provided_suffix"] == "s" and data[0]["status"] == "running"
    sql = page_query(queries)
    for column in ("provider_payload", "requested", "lease_owner", "sync_error", "cost_usd"):
        assert f'"{column}"' not in sql, column


def test_a_cursor_the_caller_cannot_see_is_a_400_and_the_last_one_an_empty_page(alice):
    key, api = alice
    ledger_job("ftjob-mine", owner=key)
    other, _ = ApiKey.create_key("bob")
    ledger_job("ftjob-bobs", owner=other, created_at=1_800_000_000)
    for cursor in ("ftjob-nope", "ftjob-bobs"):
        response = api.get("/v1/fine_tuning/jobs", {"after": cursor})
        assert response.status_code == 400, cursor
        assert response.json()["error"]["param"] == "after"
    last = api.get("/v1/fine_tuning/jobs", {"after": "ftjob-mine"})
    assert last.status_code == 200
    assert last.json()["data"] == [] and last.json()["has_more"] is False


def test_a_metadata_filtered_list_pages_after_a_cursor_among_its_own_rows(alice):
    key, api = alice
    for i in range(6):
        ledger_job(
            f"ftjob-meta-{i}", owner=key, created_at=1_700_000_000 + i, metadata={"n": str(i % 2)}
        )
    odd = {"metadata[n]": "1", "limit": 1}
    first = api.get("/v1/fine_tuning/jobs", odd).json()
    assert [j["id"] for j in first["data"]] == ["ftjob-meta-5"] and first["has_more"]
    rest = api.get("/v1/fine_tuning/jobs", {**odd, "limit": 5, "after": "ftjob-meta-5"}).json()
    assert [j["id"] for j in rest["data"]] == ["ftjob-meta-3", "ftjob-meta-1"]
