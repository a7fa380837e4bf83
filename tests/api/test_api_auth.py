"""Authentication, the error envelope, request ids, audit rows and logs."""

import json
import logging

import pytest

from ftproxy.models import ApiKey, AuditEntry

pytestmark = pytest.mark.django_db


def assert_envelope(response, status, code=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert response["x-request-id"]
    return error


def test_missing_key_is_401_in_openai_shape(sandbox, api_as):
    error = assert_envelope(api_as(None).get("/v1/files"), 401, "invalid_api_key")
    assert "API key" in error["message"]


def test_wrong_key_is_401(sandbox, api_as):
    assert_envelope(api_as("sk-wrong").get("/v1/fine_tuning/jobs"), 401, "invalid_api_key")


def test_malformed_authorization_header_is_401(sandbox, api_as):
    response = api_as(None).get("/v1/files", headers={"Authorization": "Basic abc"})
    assert_envelope(response, 401, "invalid_api_key")


def test_revoked_key_is_401(sandbox, api_as):
    key, raw = ApiKey.create_key("alice")
    assert api_as(raw).get("/v1/files").status_code == 200
    key.revoke()
    error = assert_envelope(api_as(raw).get("/v1/files"), 401, "invalid_api_key")
    assert "revoked" in error["message"]


def test_key_is_stored_only_as_prefix_and_hash(db):
    key, raw = ApiKey.create_key("bob")
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert raw not in {str(v) for v in stored.values()}
    assert raw.startswith(stored["prefix"]) and len(stored["hashed_key"]) == 64


def test_routes_work_without_the_v1_prefix(sandbox, master):
    assert master.get("/files").json()["object"] == "list"
    assert master.get("/fine_tuning/jobs").json()["object"] == "list"


def test_request_id_is_generated_or_echoed(sandbox, master):
    generated = master.get("/v1/files")["x-request-id"]
    assert generated.startswith("req_")
    echoed = master.get("/v1/files", headers={"x-request-id": "abc-123"})
    assert echoed["x-request-id"] == "abc-123"


def test_unknown_api_path_is_404_in_openai_shape(sandbox, master):
    assert_envelope(master.get("/v1/nothing/here"), 404, "unknown_url")


def test_every_call_writes_one_audit_entry_including_unauthenticated(sandbox, api_as, master):
    api_as(None).get("/v1/files")
    master.get("/v1/files/file-missing")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.status_code, e.key_prefix, e.action) for e in entries] == [
        (401, "", ""),
        (404, "master", "files.retrieve"),
    ]
    assert entries[1].object_id == "file-missing"
    assert "No such file" in entries[1].error
    assert all(e.request_id for e in entries)


def test_each_call_logs_one_structured_line(sandbox, master, caplog):
    with caplog.at_level(logging.INFO, logger="ftproxy.requests"):
        response = master.get("/v1/files")
    records = [r for r in caplog.records if r.name == "ftproxy.requests"]
    assert len(records) == 1
    facts = records[0].ftproxy
    assert facts["request_id"] == response["x-request-id"]
    assert facts["key_prefix"] == "master"
    assert facts["action"] == "files.list"
    assert facts["status_code"] == 200
    assert "duration_ms" in facts


def test_master_key_never_appears_in_logs_or_audit(sandbox, master, caplog):
    with caplog.at_level(logging.DEBUG):
        master.get("/v1/files")
    assert "sk-test-master" not in caplog.text
    assert not AuditEntry.objects.filter(key_prefix__contains="sk-test-master").exists()


def test_health_endpoints_need_no_key(sandbox, api_as):
    anonymous = api_as(None)
    assert anonymous.get("/health/liveliness").json() == {"status": "healthy"}
    assert anonymous.get("/health/readiness").json()["db"] == "connected"


def test_openapi_schema_lists_the_routes(sandbox, api_as):
    response = api_as(None).get("/openapi.json", headers={"Accept": "application/json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/v1/files" in paths and "/v1/fine_tuning/jobs/{job_id}/checkpoints" in paths
    created = paths["/v1/fine_tuning/jobs"]["post"]["responses"]
    assert created["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/FineTuningJob"
    )
    assert created["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert api_as(None).get("/docs").status_code == 200


def test_server_errors_on_api_paths_use_the_openai_envelope(rf):
    from ftproxy.api.exceptions import json_server_error

    response = json_server_error(rf.get("/v1/files"))
    assert response.status_code == 500
    error = json.loads(response.content)["error"]
    assert error["type"] == "server_error" and error["message"]


def test_server_errors_on_admin_paths_keep_djangos_page(rf):
    from ftproxy.api.exceptions import json_server_error

    response = json_server_error(rf.get("/admin/"))
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_a_lost_database_connection_is_503_and_a_query_bug_is_not(rf):
    from django.db import OperationalError, ProgrammingError

    from ftproxy.api.exceptions import openai_exception_handler

    context = {"request": None}
    down = openai_exception_handler(OperationalError("connection refused"), context)
    assert down.status_code == 503
    assert down.data["error"]["code"] == "database_unavailable"
    assert openai_exception_handler(ProgrammingError("bad SQL"), context) is None  # → 500
