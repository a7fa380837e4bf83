"""The idempotency service on its own."""

import pytest

from ftproxy.models import IdempotencyRecord
from ftproxy.services.ledger.context import MASTER, CallContext
from ftproxy.services.ledger.idempotency import run_once

pytestmark = pytest.mark.django_db


def test_a_request_whose_key_was_freed_meanwhile_still_answers():
    def slow_request():
        # While it ran past the in-flight bound, a retry freed and took the key.
        IdempotencyRecord.objects.filter(key="slow").delete()
        IdempotencyRecord.objects.create(scope="master", key="slow", fingerprint="fp")
        return 200, {"id": "ftjob-first"}

    status, body, replayed = run_once(CallContext(caller=MASTER), "slow", "fp", slow_request)
    assert (status, body, replayed) == (200, {"id": "ftjob-first"}, False)
    retaken = IdempotencyRecord.objects.get(key="slow")
    assert retaken.status_code is None  # the retry's record is the retry's to finish


def test_a_finished_request_is_replayed():
    ctx = CallContext(caller=MASTER)
    run_once(ctx, "k", "fp", lambda: (200, {"id": "x"}))
    assert run_once(ctx, "k", "fp", lambda: pytest.fail("ran twice")) == (200, {"id": "x"}, True)
