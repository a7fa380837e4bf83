"""schemathesis against the app's own ``/openapi.json``: every operation,
with the master key and with none (a user's key is the access table's); no answer is a 500
and every answer matches the schema (status, headers, body). Bounded: a
few examples per operation, no deadline, in-process over WSGI."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

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


@pytest.fixture
def known_objects(master):
    """A file and a job, so that some generated ids may be real."""
    file_id = master.upload(TRAINING).json()["id"]
    job = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": file_id})
    return file_id, job.json()["id"]


#: Schema-valid input the gateway refuses for what a schema cannot say (an
#: unknown cursor, an unconfigured provider name, an unknown file): a 400
#: naming the field is the contract there, not a violation.
EXCLUDED = [positive_data_acceptance]


def fuzz(headers: dict[str, str], expect=None) -> list[str]:
    """Run every operation of the served schema; return the operations run."""
    api = schemathesis.openapi.from_wsgi("/openapi.json", get_wsgi_application())
    ran = []
    for result in api.get_all_operations():
        operation = result.ok()

        @BOUNDS
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)
            if expect is not None:
                assert response.status_code in expect, (case.method, case.formatted_path)

        run()
        ran.append(operation.label)
    return ran


def test_every_operation_with_the_master_key(sandbox, known_objects):
    assert len(fuzz({"Authorization": f"Bearer {MASTER_KEY}"})) == 19


def test_every_operation_without_a_key(sandbox):
    fuzz({}, expect=(400, 401, 404, 411, 413, 415))
