"""A fixed number of SQL queries per route, whatever the ledger's size.

Each route is called once with a small ledger and once after 25 more files
and jobs (the caller's and another key's) were added: the count must be the
same both times and within the route's budget. The key is looked up once
(then cached), so the counts are those of a key in steady use. The upstream
is played by ``responses``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses
from django.utils import timezone

from ftproxy.models import ApiKey
from tests.conftest import TRAINING
from tests.factories import ledger_file, ledger_job

pytestmark = pytest.mark.django_db

BASE = "https://api.openai.test/v1"


def remote_job(job_id: str, status: str = "running") -> dict[str, Any]:
    return {
        "id": job_id,
        "object": "fine_tuning.job",
        "created_at": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "status": status,
        "training_file": "file-train",
        "hyperparameters": {},
        "result_files": [],
        "organization_id": "",
    }


def remote_file(file_id: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": 100,
        "created_at": 1_700_000_000,
        "filename": "t.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }


@pytest.fixture
def world(gateway_config, api_as):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    key, raw = ApiKey.create_key("alice")
    other, _ = ApiKey.create_key("bob")
    api = api_as(raw)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            "GET",
            re.compile(rf"{BASE}/fine_tuning/jobs/[^/]+$"),
            lambda request: (200, {}, json.dumps(remote_job(request.url.rsplit("/", 1)[1]))),
        )
        rsps.add_callback(
            "POST",
            re.compile(rf"{BASE}/fine_tuning/jobs/[^/]+/cancel$"),
            lambda request: (
                200,
                {},
                json.dumps(remote_job(request.url.rsplit("/", 2)[1], "cancelled")),
            ),
        )
        created = iter(range(10_000))
        rsps.add_callback(
            "POST",
            f"{BASE}/fine_tuning/jobs",
            lambda request: (
                200,
                {},
                json.dumps(remote_job(f"ftjob-new-{next(created)}", "validating_files")),
            ),
        )
        rsps.add_callback(
            "POST",
            f"{BASE}/files",
            lambda request: (200, {}, json.dumps(remote_file(f"file-new-{next(created)}"))),
        )
        rsps.add(
            "GET",
            re.compile(rf"{BASE}/fine_tuning/jobs/[^/]+/events"),
            json={"object": "list", "data": [], "has_more": False},
        )
        rsps.add_callback(
            "GET",
            re.compile(rf"{BASE}/files/[^/]+$"),
            lambda request: (200, {}, json.dumps(remote_file(request.url.rsplit("/", 1)[1]))),
        )
        yield {"api": api, "key": key, "other": other}


def grow(world, n: int, tag: str) -> None:
    """``n`` more files and jobs for each of the two keys."""
    for owner in (world["key"], world["other"]):
        for i in range(n):
            ledger_file(
                f"file-{tag}-{owner.pk}-{i}", owner=owner, created_at=1_600_000_000 + i, bytes=100
            )
            ledger_job(f"ftjob-{tag}-{owner.pk}-{i}", owner=owner, created_at=1_600_000_000 + i)


def steady_job(world, job_id: str, status: str = "running") -> str:
    return ledger_job(job_id, status, owner=world["key"], synced_at=timezone.now()).public_id


def older_and_newer(world, job_id: str) -> str:
    """A job of the caller's with an older one after it: a page that is not empty."""
    ledger_job(f"{job_id}-older", owner=world["key"], created_at=1_500_000_000)
    return steady_job(world, job_id)


def oldest(world, job_id: str, round_: int) -> str:
    """The caller's oldest job (older in each round): the page after it is empty."""
    return ledger_job(job_id, owner=world["key"], created_at=1_000_000_000 - round_).public_id


def in_sync(world, job_id: str) -> str:
    """Retrieve once, so the ledger holds what the provider answers."""
    assert world["api"].get(f"/v1/fine_tuning/jobs/{job_id}").status_code == 200
    return job_id


def file_in_sync(world, file_id: str) -> str:
    assert world["api"].get(f"/v1/files/{file_id}").status_code == 200
    return file_id


def own_file(world, file_id: str) -> str:
    return ledger_file(file_id, owner=world["key"], bytes=100).public_id


#: route: (query budget, prepare(world, round) -> id, request(api, id) -> response)
ROUTES = {
    "jobs.retrieve, nothing changed": (
        2,  # the job; the audit row (no lock, no write)
        lambda w, r: in_sync(w, steady_job(w, f"ftjob-r{r}")),
        lambda api, job: api.get(f"/v1/fine_tuning/jobs/{job}"),
    ),
    "jobs.retrieve, status changed": (
        8,  # the job; lock, update, event, the key's webhook URL (+ a savepoint pair in
        # tests); the audit row
        lambda w, r: steady_job(w, f"ftjob-q{r}", "queued"),
        lambda api, job: api.get(f"/v1/fine_tuning/jobs/{job}"),
    ),
    "jobs.cancel": (
        8,  # as a status change
        lambda w, r: steady_job(w, f"ftjob-c{r}"),
        lambda api, job: api.post_json(f"/v1/fine_tuning/jobs/{job}/cancel"),
    ),
    "jobs.create": (
        12,  # the training file; insert; link; lock, update, event, the key's webhook
        # URL (+ two savepoint pairs in tests); audit
        lambda w, r: own_file(w, f"file-t{r}"),
        lambda api, file: api.post_json(
            "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini-2024-07-18", "training_file": file}
        ),
    ),
    "jobs.list": (
        2,  # the page; the audit row
        lambda w, r: None,
        lambda api, _: api.get("/v1/fine_tuning/jobs", {"limit": 20}),
    ),
    "jobs.list after a cursor": (
        2,  # the page (the cursor a subquery of it); the audit row
        lambda w, r: older_and_newer(w, f"ftjob-l{r}"),
        lambda api, job: api.get("/v1/fine_tuning/jobs", {"limit": 5, "after": job}),
    ),
    "jobs.list after the oldest job": (
        3,  # the page, empty; whether its cursor exists; the audit row
        lambda w, r: oldest(w, f"ftjob-o{r}", r),
        lambda api, job: api.get("/v1/fine_tuning/jobs", {"limit": 5, "after": job}),
    ),
    "jobs.events": (
        3,  # the job; its copy events (merged into the provider's); the audit row
        lambda w, r: steady_job(w, f"ftjob-e{r}"),
        lambda api, job: api.get(f"/v1/fine_tuning/jobs/{job}/events"),
    ),
    "files.create": (
        3,  # insert; update; the audit row
        lambda w, r: None,
        lambda api, _: api.upload(TRAINING),
    ),
    "files.retrieve, nothing changed": (
        2,  # the file; the audit row (no write)
        lambda w, r: file_in_sync(w, own_file(w, f"file-s{r}")),
        lambda api, file: api.get(f"/v1/files/{file}"),
    ),
    "files.retrieve, changed": (
        3,  # the file; its update; the audit row
        lambda w, r: own_file(w, f"file-r{r}"),
        lambda api, file: api.get(f"/v1/files/{file}"),
    ),
    "files.list": (
        2,
        lambda w, r: None,
        lambda api, _: api.get("/v1/files", {"limit": 20}),
    ),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_queries_per_route_are_few_and_independent_of_the_ledger_size(
    world, route, django_assert_max_num_queries
):
    budget, prepare, request = ROUTES[route]
    assert world["api"].get("/v1/files").status_code == 200  # the key is cached from here on
    counts = []
    for round_, size in enumerate((0, 25)):
        grow(world, size, f"g{round_}")
        target = prepare(world, round_)
        with django_assert_max_num_queries(budget) as queries:
            response = request(world["api"], target)
        assert response.status_code == 200, response.content
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
