"""schemathesis against the app's own ``/openapi.json``: every operation,
with the master key and with none (a user's key is the access table's).

The schema and the server agree both ways: what the schema allows the
server takes (``positive_data_acceptance``), what it forbids the server
refuses (``negative_data_rejection``), and every answer matches the schema
(status, content type, headers, body) and is never a 500. Bounded: a few
examples per operation and mode, no deadline, in-process over WSGI."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import MASTER_KEY, TRAINING

# Real transactions, as in production: one failed statement must not poison
# the examples after it.
pytestmark = pytest.mark.django_db(transaction=True)


BOUNDS = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

#: Schema-valid input the gateway refuses for what no schema can say, with
#: a 400 naming the field (the contract there, not a disagreement): an id
#: that is no object's as a list's ``after`` cursor, a training file that is
#: no file; and the multipart creates, whose generated ``file``/``data`` is
#: sent as a plain field, not a file; a key's webhook URL must be one
#: Django's URLValidator takes and its allowlist must name configured entries.
SERVER_JUDGES = {
    "GET /v1/keys",
    "POST /v1/keys",
    "POST /v1/keys/{key_id}",
    "GET /v1/files",
    "GET /v1/fine_tuning/jobs",
    "GET /v1/fine_tuning/jobs/{job_id}/events",
    "GET /v1/fine_tuning/jobs/{job_id}/checkpoints",
    "POST /v1/fine_tuning/jobs",
    "POST /v1/files",
    "POST /v1/uploads/{upload_id}/parts",
}


@pytest.fixture
def known_objects(master):
    """A file and a job, so that some generated ids may be real."""
    file_id = master.upload(TRAINING).json()["id"]
    job = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": file_id})
    return file_id, job.json()["id"]


#: A request the schema forbids is refused with one of these: schemathesis's
#: default list, plus 413 (a declared size over the schema's ``maximum`` is
#: "too large", as the API documents; 5xx is left to ``not_a_server_error``).
REJECTED = [
    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"),
    "5xx",
]
CONFIG = {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}


def fuzz(headers: dict[str, str], expect=None) -> list[str]:
    """Run every operation of the served schema, with schema-valid and with
    schema-violating input; return the operations run."""
    api = schemathesis.openapi.from_wsgi(
        "/openapi.json",
        get_wsgi_application(),
        config=SchemathesisConfig.from_dict(CONFIG),
    )
    ran = []
    for result in api.get_all_operations():
        operation = result.ok()
        checks = list(CONFORMANCE)
        if operation.label not in SERVER_JUDGES and headers:
            checks.append(positive_data_acceptance)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_mode(operation, mode, headers, checks, expect)
        ran.append(operation.label)
    return ran


def run_mode(operation, mode, headers, checks, expect) -> None:
    @BOUNDS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        # A fresh Idempotency-Key: a reused one is refused, as documented.
        fresh = {"Idempotency-Key": uuid.uuid4().hex} if mode.is_positive else {}
        response = case.call_and_validate(headers={**fresh, **headers}, checks=checks)
        if expect is not None:
            assert response.status_code in expect, (case.method, case.formatted_path)

    run()


def test_every_operation_with_the_master_key(sandbox, known_objects):
    assert len(fuzz({"Authorization": f"Bearer {MASTER_KEY}"})) == 28


def test_every_operation_without_a_key(sandbox):
    fuzz({}, expect=(400, 401, 404, 411, 413, 415))


def test_every_operation_with_a_user_key(sandbox, make_key):
    """The keys API refuses any other key (403); the rest answers as documented."""
    fuzz({"Authorization": f"Bearer {make_key('user')}"})
