"""What the gateway answers when OpenAI fails, for the calls that reach it:
create file, create job, retrieve job.

Upstream statuses are played by ``responses``; refused connections and
silence by real local sockets. Every failure is told in OpenAI's envelope
with the status docs/api.md gives, leaves a ledger row that says so (for creates) and
an audit row with the gateway's status, the upstream's and the message; the
master key never shows up in either.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import responses

from ftproxy.models import AuditEntry, File, FineTuningJob, LedgerState
from tests.conftest import MASTER_KEY, TRAINING
from tests.factories import ledger_file, ledger_job

BASE = "https://api.openai.test/v1"
UPSTREAM_KEY = "sk-upstream-secret"
KNOWN_JOB = "ftjob-known"


@dataclass(frozen=True)
class Operation:
    """One gateway call that reaches the upstream, and how to find its ledger row."""

    name: str
    action: str
    method: str
    path: str
    call: Callable[[Any], Any]
    ledger: type | None  # the model a create records first; None for a retrieve

    def failed_row(self):
        if self.ledger is None:
            return None
        return self.ledger.objects.exclude(public_id=KNOWN_JOB).get()


OPERATIONS = [
    Operation(
        "create_file",
        "files.create",
        "POST",
        "files",
        lambda api: api.upload(TRAINING),
        File,
    ),
    Operation(
        "create_job",
        "fine_tuning.jobs.create",
        "POST",
        "fine_tuning/jobs",
        lambda api: api.post_json(
            "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": "file-abc"}
        ),
        FineTuningJob,
    ),
    Operation(
        "retrieve_job",
        "fine_tuning.jobs.retrieve",
        "GET",
        f"fine_tuning/jobs/{KNOWN_JOB}",
        lambda api: api.get(f"/v1/fine_tuning/jobs/{KNOWN_JOB}"),
        None,
    ),
]


def openai_entry(**overrides: Any) -> dict[str, Any]:
    return {
        "custom_llm_provider": "openai",
        "api_key": UPSTREAM_KEY,
        "api_base": BASE,
        "max_retries": 2,
        **overrides,
    }


@pytest.fixture
def use_entry(gateway_config, db):
    """Configure one openai entry for files and fine-tuning, and put a job
    the ledger knows in place for the retrieve."""

    def use(**overrides: Any) -> None:
        entry = openai_entry(**overrides)
        gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
        ledger_job(KNOWN_JOB, model="gpt-4o-mini", training_file="file-abc")

    return use


@pytest.fixture
def upstream(use_entry):
    use_entry()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def answer(rsps, op: Operation, status: int, body: Any, headers: dict | None = None):
    return rsps.add(op.method, f"{BASE}/{op.path}", status=status, json=body, headers=headers)


def check_failure(
    response, op: Operation, *, status: int, upstream_status: int | None, message: str
) -> dict[str, Any]:
    """The envelope, the ledger row and the audit row of a failed call."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert message in error["message"]
    assert response["x-request-id"]

    row = op.failed_row()
    if row is not None:
        # A create that may have happened upstream stays pending for the
        # reconciler (and says so to the SDK); one that surely did not failed.
        may_have_happened = response.get("x-should-retry") == "false"
        expected = LedgerState.PENDING if may_have_happened else LedgerState.FAILED
        assert row.ledger_state == expected
        assert row.ledger_error.startswith(error["message"])
        assert row.provider == "openai"
    else:
        known = FineTuningJob.objects.get(public_id=KNOWN_JOB)
        assert (known.ledger_state, known.status) == (LedgerState.OK, "running")

    audit = AuditEntry.objects.get(request_id=response["x-request-id"])
    assert (audit.action, audit.provider, audit.key_prefix) == (op.action, "openai", "master")
    assert (audit.status_code, audit.upstream_status) == (status, upstream_status)
    assert audit.error == error["message"]
    if op.ledger is None:
        assert audit.object_id == KNOWN_JOB

    everything = response.content.decode() + json.dumps(
        list(AuditEntry.objects.values()), default=str
    )
    assert MASTER_KEY not in everything
    assert UPSTREAM_KEY not in everything
    return error


def visible_nothing_new(master) -> None:
    """A failed create shows up in no list (the ledger keeps it for the record)."""
    assert master.get("/v1/files").json()["data"] == []
    assert [j["id"] for j in master.get("/v1/fine_tuning/jobs").json()["data"]] == [KNOWN_JOB]


# --------------------------------------------------------------------------
# The upstream answered with an error
# --------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_an_upstream_400_is_passed_on_with_its_status_message_and_param(upstream, master, op):
    body = {
        "error": {
            "message": "Invalid value for training_file: not a JSONL file.",
            "type": "invalid_request_error",
            "param": "training_file",
            "code": "invalid_training_file",
        }
    }
    answer(upstream, op, 400, body)
    error = check_failure(
        op.call(master),
        op,
        status=400,
        upstream_status=400,
        message="Invalid value for training_file: not a JSONL file.",
    )
    assert error == body["error"]
    visible_nothing_new(master)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_rejected_gateway_credentials_are_a_502_that_says_so(upstream, master, op, status):
    answer(upstream, op, status, {"error": {"message": "Incorrect API key provided."}})
    error = check_failure(
        op.call(master),
        op,
        status=502,
        upstream_status=status,
        message="rejected the gateway's credentials",
    )
    assert error["type"] == "upstream_auth_error"
    assert f"HTTP {status}" in error["message"]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_an_upstream_429_is_passed_on_with_its_retry_after(upstream, master, op):
    rsp = answer(
        upstream,
        op,
        429,
        {"error": {"message": "Rate limit reached.", "type": "requests"}},
        headers={"Retry-After": "20"},
    )
    response = op.call(master)
    check_failure(response, op, status=429, upstream_status=429, message="Rate limit reached.")
    assert response["Retry-After"] == "20"
    assert rsp.call_count == 1  # longer than the gateway waits: the client decides


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_an_upstream_500_is_a_502_once_the_retries_are_spent(upstream, master, op):
    rsp = answer(upstream, op, 500, {"error": {"message": "The server had an error."}})
    error = check_failure(
        op.call(master),
        op,
        status=502,
        upstream_status=500,
        message="The server had an error.",
    )
    assert "failed (HTTP 500)" in error["message"]
    # GET is retried (max_retries: 2); a POST that reached the upstream never is.
    assert rsp.call_count == (3 if op.method == "GET" else 1)


# --------------------------------------------------------------------------
# The upstream could not be reached, or did not answer
# --------------------------------------------------------------------------


@pytest.fixture
def closed_port_url():
    """A local port nobody listens on: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def silent_server_url():
    """A port that accepts connections (from the backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_a_refused_connection_is_a_503(use_entry, master, op, closed_port_url):
    use_entry(api_base=closed_port_url, max_retries=0)
    error = check_failure(
        op.call(master),
        op,
        status=503,
        upstream_status=None,
        message="could not be reached",
    )
    assert error["type"] == "upstream_unavailable"


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
def test_an_upstream_that_never_answers_is_a_504(use_entry, master, op, silent_server_url):
    use_entry(api_base=silent_server_url, max_retries=0, timeout=0.3)
    error = check_failure(
        op.call(master),
        op,
        status=504,
        upstream_status=None,
        message="did not answer within 0.3 seconds",
    )
    assert error["type"] == "upstream_timeout"
    row = op.failed_row()
    if row is not None:  # a create that timed out may have happened upstream
        assert "the provider may have acted on the request" in row.ledger_error


def test_a_file_gone_upstream_is_404_and_marked_deleted_in_the_ledger(upstream, master):
    ledger_file("file-gone")
    upstream.add(
        "GET",
        f"{BASE}/files/file-gone",
        status=404,
        json={"error": {"message": "No such File object: file-gone"}},
    )
    response = master.get("/v1/files/file-gone")
    assert response.status_code == 404
    row = File.objects.get(public_id="file-gone")
    assert row.deleted and row.status == "deleted"
    assert master.get("/v1/files").json()["data"] == []


def test_a_404_that_is_not_the_providers_own_word_deletes_nothing(upstream, master):
    ledger_file("file-kept")
    upstream.add("GET", f"{BASE}/files/file-kept", status=404, body="<html>Not Found</html>")
    assert master.get("/v1/files/file-kept").status_code == 404
    assert not File.objects.get(public_id="file-kept").deleted
