"""Ids the ledger does not know (objects made outside the gateway).

With the master key and a ``custom_llm_provider`` hint the call is forwarded
and the object adopted into the ledger: one row, no owner, and later calls
find it without the hint. Without a hint it is a 404; for a user key it is a
404 even with a hint, and nothing is sent upstream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import responses

from ftproxy.models import AuditEntry, File, FineTuningJob, JobEvent
from tests.factories import ledger_file, ledger_job

BASE = "https://api.openai.test/v1"
FILE = "file-madeelsewhere"
JOB = "ftjob-madeelsewhere"
CONTENT = b'{"messages": []}\n\x00\xffraw bytes\r\n'
HINT = "openai"


def job_json(status: str) -> dict[str, Any]:
    return {
        "id": JOB,
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1_700_000_100,
        "status": status,
        "training_file": FILE,
        "validation_file": None,
        "fine_tuned_model": None,
        "finished_at": None,
        "organization_id": "org-1",
        "result_files": [],
        "hyperparameters": {"n_epochs": 2},
        "trained_tokens": None,
        "seed": 3,
        "error": None,
        "suffix": "elsewhere",
    }


@pytest.fixture
def upstream(gateway_config, db):
    """Two entries, so a hint is needed to pick one; OpenAI knows FILE and JOB."""
    openai_entry = {
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream",
        "api_base": BASE,
        "max_retries": 0,
    }
    azure_entry = {
        "custom_llm_provider": "azure",
        "api_key": "azure-key",
        "api_base": "https://res.openai.azure.test",
        "api_version": "v1",
        "max_retries": 0,
    }
    entries = [openai_entry, azure_entry]
    gateway_config({"finetune_settings": entries, "files_settings": [dict(e) for e in entries]})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(
            f"{BASE}/files/{FILE}",
            json={
                "id": FILE,
                "object": "file",
                "bytes": len(CONTENT),
                "created_at": 1_700_000_000,
                "filename": "elsewhere.jsonl",
                "purpose": "fine-tune",
                "status": "processed",
            },
        )
        rsps.get(f"{BASE}/files/{FILE}/content", body=CONTENT)
        rsps.delete(f"{BASE}/files/{FILE}", json={"id": FILE, "object": "file", "deleted": True})
        rsps.get(f"{BASE}/fine_tuning/jobs/{JOB}", json=job_json("running"))
        rsps.post(f"{BASE}/fine_tuning/jobs/{JOB}/cancel", json=job_json("cancelled"))
        rsps.get(
            f"{BASE}/fine_tuning/jobs/{JOB}/events",
            json={
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "object": "fine_tuning.job.event",
                        "id": "ftevent-up-1",
                        "created_at": 1_700_000_200,
                        "level": "info",
                        "message": "Fine-tuning job started",
                        "type": "message",
                    }
                ],
            },
        )
        rsps.get(
            f"{BASE}/fine_tuning/jobs/{JOB}/checkpoints",
            json={
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "object": "fine_tuning.job.checkpoint",
                        "id": "ftckpt-up-1",
                        "created_at": 1_700_000_300,
                        "step_number": 10,
                        "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:org-1::ckpt",
                        "fine_tuning_job_id": JOB,
                        "metrics": {"step": 10},
                    }
                ],
            },
        )
        yield rsps


def seen(rsps) -> list[tuple[str, str]]:
    return [(c.request.method, c.request.url.removeprefix(f"{BASE}/")) for c in rsps.calls]


def query(hint: str | None) -> dict[str, str]:
    return {"custom_llm_provider": hint} if hint else {}


@dataclass(frozen=True)
class Call:
    """One route on an id the ledger may not know."""

    name: str
    model: type
    object_id: str
    send: Callable[[Any, str | None], Any]
    #: What reaches the upstream when the object is adopted: the adopting
    #: fetch, then the call itself (nothing more for a plain retrieve).
    upstream: list[tuple[str, str]]
    #: Whether the gateway's answer is the expected one.
    check: Callable[[Any], bool]


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


CALLS = [
    Call(
        "retrieve_file",
        File,
        FILE,
        lambda api, hint: api.get(f"/v1/files/{FILE}", query(hint)),
        [("GET", f"files/{FILE}")],
        lambda r: r.json()["filename"] == "elsewhere.jsonl",
    ),
    Call(
        "file_content",
        File,
        FILE,
        lambda api, hint: api.get(f"/v1/files/{FILE}/content", query(hint)),
        [("GET", f"files/{FILE}"), ("GET", f"files/{FILE}/content")],
        lambda r: body(r) == CONTENT,
    ),
    Call(
        "delete_file",
        File,
        FILE,
        lambda api, hint: api.delete(
            f"/v1/files/{FILE}", headers={"custom-llm-provider": hint} if hint else None
        ),
        [("GET", f"files/{FILE}"), ("DELETE", f"files/{FILE}")],
        lambda r: r.json() == {"id": FILE, "object": "file", "deleted": True},
    ),
    Call(
        "retrieve_job",
        FineTuningJob,
        JOB,
        lambda api, hint: api.get(f"/v1/fine_tuning/jobs/{JOB}", query(hint)),
        [("GET", f"fine_tuning/jobs/{JOB}")],
        lambda r: r.json()["status"] == "running",
    ),
    Call(
        "job_events",
        FineTuningJob,
        JOB,
        lambda api, hint: api.get(f"/v1/fine_tuning/jobs/{JOB}/events", query(hint)),
        [("GET", f"fine_tuning/jobs/{JOB}"), ("GET", f"fine_tuning/jobs/{JOB}/events?limit=20")],
        lambda r: [e["id"] for e in r.json()["data"]] == ["ftevent-up-1"],
    ),
    Call(
        "job_checkpoints",
        FineTuningJob,
        JOB,
        lambda api, hint: api.get(f"/v1/fine_tuning/jobs/{JOB}/checkpoints", query(hint)),
        [
            ("GET", f"fine_tuning/jobs/{JOB}"),
            ("GET", f"fine_tuning/jobs/{JOB}/checkpoints?limit=10"),
        ],
        lambda r: (
            [(c["id"], c["fine_tuning_job_id"]) for c in r.json()["data"]] == [("ftckpt-up-1", JOB)]
        ),
    ),
    Call(
        "cancel_job",
        FineTuningJob,
        JOB,
        lambda api, hint: api.post_json(
            f"/v1/fine_tuning/jobs/{JOB}/cancel", {"custom_llm_provider": hint} if hint else {}
        ),
        [("GET", f"fine_tuning/jobs/{JOB}"), ("POST", f"fine_tuning/jobs/{JOB}/cancel")],
        lambda r: r.json()["status"] == "cancelled",
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_master_key_with_an_entry_forwards_and_adopts_the_object(upstream, master, call):
    response = call.send(master, HINT)
    assert response.status_code == 200, body(response)
    assert call.check(response), body(response)
    assert seen(upstream) == call.upstream

    [row] = call.model.objects.filter(public_id=call.object_id)
    assert (row.remote_id, row.provider, row.provider_kind) == (call.object_id, "openai", "openai")
    assert row.owner is None
    assert row.ledger_state == "ok"
    audit = AuditEntry.objects.get(request_id=response["x-request-id"])
    assert (audit.provider, audit.object_id, audit.status_code) == ("openai", call.object_id, 200)


@pytest.mark.parametrize(
    "call", [c for c in CALLS if c.name != "delete_file"], ids=lambda c: c.name
)
def test_an_adopted_object_is_found_later_without_a_hint(upstream, master, call):
    assert call.send(master, HINT).status_code == 200
    upstream.calls.reset()
    again = call.send(master, None)
    assert again.status_code == 200, body(again)
    assert call.check(again), body(again)
    assert call.model.objects.filter(public_id=call.object_id).count() == 1


def test_an_adopted_file_that_was_deleted_stays_in_the_ledger_marked_deleted(upstream, master):
    assert master.delete(f"/v1/files/{FILE}", headers={"custom-llm-provider": HINT}).json() == {
        "id": FILE,
        "object": "file",
        "deleted": True,
    }
    row = File.objects.get(public_id=FILE)
    assert (row.deleted, row.status, row.owner) == (True, "deleted", None)
    assert master.get(f"/v1/files/{FILE}").status_code == 404


def test_an_adopted_job_keeps_the_upstream_fields_and_its_first_status(upstream, master):
    master.get(f"/v1/fine_tuning/jobs/{JOB}", {"custom_llm_provider": HINT})
    job = FineTuningJob.objects.get(public_id=JOB)
    assert (job.model, job.status, job.raw_status, job.training_file, job.suffix) == (
        "gpt-4o-mini-2024-07-18",
        "running",
        "running",
        FILE,
        "elsewhere",
    )
    assert (job.created_at, job.seed, job.organization_id) == (1_700_000_100, 3, "org-1")
    [event] = JobEvent.objects.filter(job=job)
    assert (event.from_status, event.to_status, event.source) == ("", "running", "adopt")
    listed = master.get("/v1/fine_tuning/jobs").json()["data"]
    assert [j["id"] for j in listed] == [JOB]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_without_a_hint_an_unknown_id_is_404_and_nothing_is_forwarded(upstream, master, call):
    response = call.send(master, None)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert seen(upstream) == []
    assert not call.model.objects.exists()


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_a_user_key_gets_404_even_with_a_hint_and_nothing_is_forwarded(
    upstream, api_as, make_key, call
):
    response = call.send(api_as(make_key("alice")), HINT)
    assert response.status_code == 404
    assert call.object_id in response.json()["error"]["message"]
    assert seen(upstream) == []
    assert not call.model.objects.exists()


def test_a_user_key_cannot_see_an_object_the_master_key_adopted(upstream, master, api_as, make_key):
    assert (
        master.get(f"/v1/fine_tuning/jobs/{JOB}", {"custom_llm_provider": HINT}).status_code == 200
    )
    upstream.calls.reset()
    user = api_as(make_key("alice"))
    assert user.get(f"/v1/fine_tuning/jobs/{JOB}").status_code == 404
    assert user.get(f"/v1/fine_tuning/jobs/{JOB}", {"custom_llm_provider": HINT}).status_code == 404
    assert seen(upstream) == []


def test_an_id_the_upstream_does_not_know_either_is_404_and_adopts_nothing(upstream, master):
    upstream.get(
        f"{BASE}/fine_tuning/jobs/ftjob-nowhere",
        status=404,
        json={"error": {"message": "No such job: ftjob-nowhere", "code": "not_found"}},
    )
    response = master.get("/v1/fine_tuning/jobs/ftjob-nowhere", {"custom_llm_provider": HINT})
    assert response.status_code == 404
    assert "ftjob-nowhere" in response.json()["error"]["message"]
    assert not FineTuningJob.objects.exists()


def test_a_hint_naming_no_configured_entry_is_a_400_listing_the_configured_ones(upstream, master):
    response = master.get(f"/v1/files/{FILE}", {"custom_llm_provider": "bedrock"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "custom_llm_provider"
    assert "azure" in error["message"] and "openai" in error["message"]
    assert seen(upstream) == []


def adopted_meanwhile(rsps, url: str, answer: dict[str, Any], adopt: Callable[[], Any]) -> None:
    """The upstream answers ``url`` only after another request has adopted
    the same object (the row appears while the call is in flight)."""

    def callback(request):
        adopt()
        return 200, {}, json.dumps(answer)

    rsps.remove(responses.GET, url)
    rsps.add_callback(responses.GET, url, callback=callback)


def test_two_requests_adopting_one_file_at_once_share_one_row(upstream, master):
    answer = {
        "id": FILE,
        "object": "file",
        "bytes": 3,
        "created_at": 1_700_000_000,
        "filename": "elsewhere.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }
    adopted_meanwhile(
        upstream,
        f"{BASE}/files/{FILE}",
        answer,
        lambda: ledger_file(FILE, filename="elsewhere.jsonl"),
    )
    response = master.get(f"/v1/files/{FILE}", {"custom_llm_provider": HINT})
    assert response.status_code == 200, response.content
    assert response.json()["id"] == FILE
    assert File.objects.filter(public_id=FILE).count() == 1


def test_two_requests_adopting_one_job_at_once_share_one_row(upstream, master):
    adopted_meanwhile(
        upstream,
        f"{BASE}/fine_tuning/jobs/{JOB}",
        job_json("running"),
        lambda: ledger_job(JOB, "queued", created_at=1_700_000_100),
    )
    response = master.get(f"/v1/fine_tuning/jobs/{JOB}", {"custom_llm_provider": HINT})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running"
    [job] = FineTuningJob.objects.filter(public_id=JOB)
    assert job.status == "running"
    assert [(e.from_status, e.to_status) for e in JobEvent.objects.filter(job=job)] == [
        ("queued", "running")
    ]
