"""Every unhandled exception logs one traceback (with the request id) on
stderr, its audit row names the exception type and request id, and the 500
names the request id; a database outage logs one line per request."""

from __future__ import annotations

import io
import logging

import pytest
import responses
from django.db import OperationalError, connection

from ftproxy.models import AuditEntry
from tests.factories import ledger_job

BASE = "https://api.openai.test/v1"


@pytest.fixture
def errors_stream():
    """What the site's stderr handler for unhandled exceptions writes."""
    (handler,) = [h for h in logging.getLogger("django.request").handlers if h.filters]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture
def openai_entry(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-upstream-xyz1234", "api_base": BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})


@pytest.mark.django_db
def test_an_unhandled_exception_logs_one_traceback_and_names_the_request(
    openai_entry, master, errors_stream
):
    ledger_job("ftjob-1")
    master.client.raise_request_exception = False  # answer as the server would
    with responses.RequestsMock() as rsps:
        # A malformed answer the provider code does not expect: a real bug path.
        rsps.add(
            responses.GET,
            f"{BASE}/fine_tuning/jobs/ftjob-1",
            json={"id": "ftjob-1", "created_at": "not-a-number", "status": "running"},
        )
        response = master.get("/v1/fine_tuning/jobs/ftjob-1")
    assert response.status_code == 500
    request_id = response["x-request-id"]
    assert request_id in response.json()["error"]["message"]
    logged = errors_stream.getvalue()
    assert logged.count("Traceback (most recent call last)") == 1
    assert f"request_id={request_id}" in logged and "ValueError" in logged
    audit = AuditEntry.objects.get(request_id=request_id)
    assert "ValueError" in audit.error and request_id in audit.error


@pytest.mark.django_db
def test_a_database_outage_logs_one_line_per_request(sandbox, master, errors_stream, caplog):
    def down(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    caplog.set_level(logging.INFO)
    with connection.execute_wrapper(down):
        response = master.get("/v1/files")
    assert response.status_code == 503
    assert errors_stream.getvalue() == ""  # no traceback
    ours = [r for r in caplog.records if r.name.startswith("ftproxy")]
    assert len(ours) == 1 and ours[0].exc_info is None
    assert "audit=unwritten(OperationalError)" in ours[0].getMessage()


@pytest.mark.django_db
def test_a_database_down_503_on_a_create_is_retryable(sandbox, master):
    def down(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(down):
        response = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "f"})
    assert response.status_code == 503
    assert "x-should-retry" not in response  # nothing reached a provider


@pytest.mark.django_db
def test_client_errors_log_no_traceback(sandbox, master, errors_stream):
    assert master.get("/v1/files/file-nope").status_code == 404
    assert master.post_json("/v1/fine_tuning/jobs", {"model": 1}).status_code == 400
    assert errors_stream.getvalue() == ""


@pytest.mark.django_db
def test_liveliness_touches_nothing_and_readiness_says_when_the_database_is_down(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert client.get("/health/liveliness").status_code == 200

    def down(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    if connection.vendor == "sqlite":  # PostgreSQL probes on a connection of its own
        with connection.execute_wrapper(down):
            response = client.get("/health/readiness")
        assert response.status_code == 503
        assert response.json()["db"] == "disconnected"
