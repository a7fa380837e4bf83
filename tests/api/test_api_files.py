"""/v1/files through the API, on the sandbox provider."""

import hashlib
import json

import pytest

from ftproxy.models import AuditEntry, File, LedgerState
from tests.conftest import TRAINING, chat_line, jsonl

pytestmark = pytest.mark.django_db


def test_upload_records_bytes_and_sha256_and_returns_an_openai_file(sandbox, master):
    response = master.upload(TRAINING)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "file"
    assert body["id"].startswith("file-")
    assert body["bytes"] == len(TRAINING)
    assert body["filename"] == "train.jsonl"
    assert body["purpose"] == "fine-tune"
    assert body["status"] == "processed"
    assert isinstance(body["created_at"], int)
    row = File.objects.get(public_id=body["id"])
    assert row.sha256 == hashlib.sha256(TRAINING).hexdigest()
    assert row.ledger_state == LedgerState.OK
    assert row.owner is None
    assert row.estimated_tokens and row.estimated_tokens > 0


def test_expires_after_is_accepted_and_sets_expires_at(sandbox, master):
    response = master.upload(
        b"anything",
        purpose="batch",
        filename="b.jsonl",
        extra={"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["expires_at"] == body["created_at"] + 3600


def test_expires_after_out_of_range_is_400_naming_the_field(sandbox, master):
    response = master.upload(
        b"x",
        purpose="batch",
        extra={"expires_after[anchor]": "created_at", "expires_after[seconds]": "5"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expires_after[seconds]"


def test_bad_purpose_is_400_naming_purpose(sandbox, master):
    response = master.upload(TRAINING, purpose="training")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "purpose"


def test_missing_file_is_400_naming_file(sandbox, master):
    response = master.client.post(
        "/v1/files", {"purpose": "fine-tune"}, HTTP_AUTHORIZATION="Bearer sk-test-master"
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_unknown_form_field_is_rejected_not_dropped(sandbox, master):
    response = master.upload(TRAINING, extra={"purpse": "fine-tune"})
    assert response.status_code == 400
    assert "purpse" in response.json()["error"]["message"]


def test_invalid_fine_tune_file_is_400_naming_each_bad_line_and_nothing_is_uploaded(
    sandbox, master
):
    content = jsonl(chat_line()) + b"not json\n" + jsonl({"messages": []}, chat_line())
    response = master.upload(content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "file"
    assert "line 2" in error["message"] and "line 3" in error["message"]
    assert "line 1" not in error["message"] and "line 4" not in error["message"]
    assert not File.objects.exists()


def test_upload_over_max_upload_mb_is_413(gateway_config, sandbox_entry, master):
    gateway_config(
        {
            "files_settings": [sandbox_entry],
            "ftproxy_settings": {"max_upload_mb": 0.001},  # about 1 KB
        }
    )
    response = master.upload(b"x" * 5000, purpose="batch")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert not File.objects.exists()


def test_declared_length_over_the_limit_is_413_before_reading_the_body(
    gateway_config, sandbox_entry, master
):
    gateway_config({"files_settings": [sandbox_entry], "ftproxy_settings": {"max_upload_mb": 1}})
    response = master.client.post(
        "/v1/files",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
        HTTP_AUTHORIZATION="Bearer sk-test-master",
    )
    assert response.status_code == 413


def test_list_paginates_with_after_limit_has_more_and_ids(sandbox, master):
    ids = [master.upload(TRAINING, filename=f"f{i}.jsonl").json()["id"] for i in range(5)]
    first = master.get("/v1/files", {"limit": 2}).json()
    assert [f["id"] for f in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    assert first["first_id"] == ids[4] and first["last_id"] == ids[3]
    seen = [f["id"] for f in first["data"]]
    after = first["last_id"]
    while True:
        page = master.get("/v1/files", {"limit": 2, "after": after}).json()
        seen += [f["id"] for f in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ids[::-1]
    ascending = master.get("/v1/files", {"order": "asc"}).json()
    assert [f["id"] for f in ascending["data"]] == ids


def test_list_filters_by_purpose(sandbox, master):
    tuned = master.upload(TRAINING).json()["id"]
    master.upload(b"{}", purpose="batch", filename="b.jsonl")
    data = master.get("/v1/files", {"purpose": "fine-tune"}).json()["data"]
    assert [f["id"] for f in data] == [tuned]


def test_list_with_unknown_after_is_400(sandbox, master):
    response = master.get("/v1/files", {"after": "file-nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


def test_bad_limit_is_400_naming_limit(sandbox, master):
    response = master.get("/v1/files", {"limit": 0})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_retrieve_content_and_delete(sandbox, master):
    payload = bytes(range(256)) * 100
    file_id = master.upload(payload, purpose="user_data", filename="blob.bin").json()["id"]
    assert master.get(f"/v1/files/{file_id}").json()["id"] == file_id
    content = master.get(f"/v1/files/{file_id}/content", headers={"Accept": "application/binary"})
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == payload
    deleted = master.delete(f"/v1/files/{file_id}")
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert master.get(f"/v1/files/{file_id}").status_code == 404
    assert master.get("/v1/files").json()["data"] == []
    row = File.objects.get(public_id=file_id)
    assert row.deleted and row.status == "deleted"  # the ledger keeps the row


def test_unknown_file_is_404(sandbox, master):
    for response in (
        master.get("/v1/files/file-unknown"),
        master.get("/v1/files/file-unknown/content"),
        master.delete("/v1/files/file-unknown"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_provider_is_chosen_by_hint_in_form_query_or_header(
    gateway_config, sandbox_entry, master, tmp_path
):
    second = {**sandbox_entry, "name": "other", "storage_dir": str(tmp_path / "other")}
    gateway_config({"files_settings": [sandbox_entry, second]})
    missing = master.upload(b"x", purpose="batch")
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert error["param"] == "custom_llm_provider"
    assert "other" in error["message"] and "sandbox" in error["message"]
    by_form = master.upload(b"x", purpose="batch", extra={"custom_llm_provider": "other"})
    by_header = master.upload(b"x", purpose="batch", headers={"custom-llm-provider": "other"})
    rows = File.objects.filter(public_id__in=[by_form.json()["id"], by_header.json()["id"]])
    assert {row.provider for row in rows} == {"other"}
    # Follow-up calls need no hint: the ledger knows where the file lives.
    assert master.get(f"/v1/files/{by_form.json()['id']}").status_code == 200


def test_unconfigured_provider_is_400_listing_configured_ones(sandbox, master):
    response = master.upload(b"x", purpose="batch", extra={"custom_llm_provider": "openai"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "custom_llm_provider"
    assert "sandbox" in error["message"]


def test_idempotent_upload_is_replayed(sandbox, master):
    headers = {"Idempotency-Key": "upload-1"}
    first = master.upload(TRAINING, headers=headers)
    again = master.upload(TRAINING, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert File.objects.count() == 1


def test_idempotency_key_reused_with_a_different_upload_is_400(sandbox, master):
    headers = {"Idempotency-Key": "upload-2"}
    master.upload(TRAINING, headers=headers)
    other = master.upload(TRAINING + jsonl(chat_line()), headers=headers)
    assert other.status_code == 400
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_are_per_caller(sandbox, master, api_as, make_key):
    headers = {"Idempotency-Key": "same"}
    mine = master.upload(TRAINING, headers=headers).json()["id"]
    theirs = api_as(make_key()).upload(TRAINING, headers=headers).json()["id"]
    assert mine != theirs


def test_a_failed_request_does_not_burn_the_idempotency_key(sandbox, master):
    headers = {"Idempotency-Key": "retry-me"}
    assert master.upload(b"not json\n", headers=headers).status_code == 400
    assert master.upload(TRAINING, headers=headers).status_code == 200


def test_upload_writes_an_audit_entry_with_provider_and_object(sandbox, master):
    file_id = master.upload(TRAINING).json()["id"]
    entry = AuditEntry.objects.get(action="files.create")
    assert (entry.object_id, entry.provider, entry.status_code) == (file_id, "sandbox", 200)
    assert entry.upstream_ms is not None


def test_list_response_is_json_serialisable_openai_shape(sandbox, master):
    master.upload(TRAINING)
    body = master.get("/v1/files").json()
    assert set(body) == {"object", "data", "has_more", "first_id", "last_id"}
    json.dumps(body)


def test_a_json_array_instead_of_a_form_is_400(sandbox, master):
    response = master.post_json("/v1/files", ["not", "a", "form"])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_idempotency_key_with_other_bytes_of_the_same_name_and_size_is_400(sandbox, master):
    headers = {"Idempotency-Key": "same-size"}
    first = jsonl(chat_line("aaaa"))
    other = jsonl(chat_line("bbbb"))
    assert len(first) == len(other)
    assert master.upload(first, headers=headers).status_code == 200
    response = master.upload(other, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_an_idempotency_key_left_in_flight_by_a_dead_request_is_freed(sandbox, master):
    from datetime import timedelta

    from django.utils import timezone

    from ftproxy.models import IdempotencyRecord
    from ftproxy.services.ledger.idempotency import fingerprint

    IdempotencyRecord.objects.create(
        scope="master",
        key="orphan",
        fingerprint="x",
        created=timezone.now() - timedelta(hours=2),
    )
    same_request = fingerprint(
        "files.create",
        "train.jsonl",
        hashlib.sha256(TRAINING).hexdigest(),
        "fine-tune",
        None,
        None,
    )
    fresh = IdempotencyRecord.objects.create(scope="master", key="busy", fingerprint=same_request)
    assert master.upload(TRAINING, headers={"Idempotency-Key": "orphan"}).status_code == 200
    busy = master.upload(TRAINING, headers={"Idempotency-Key": "busy"})
    assert busy.status_code == 409  # still in flight: the SDK retries this by itself
    assert IdempotencyRecord.objects.filter(pk=fresh.pk).exists()


def test_too_many_form_fields_is_a_400_in_openai_shape(sandbox, master, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = master.upload(TRAINING, extra={f"f{i}": "x" for i in range(10)})
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_cursor_deleted_since_its_page_still_continues_the_list(sandbox, master):
    ids = [master.upload(TRAINING, filename=f"f{i}.jsonl").json()["id"] for i in range(3)]
    first = master.get("/v1/files", {"limit": 1}).json()
    master.delete(f"/v1/files/{first['last_id']}")
    rest = master.get("/v1/files", {"limit": 10, "after": first["last_id"]})
    assert rest.status_code == 200
    assert [f["id"] for f in rest.json()["data"]] == [ids[1], ids[0]]


def test_an_entry_on_a_list_narrows_it_to_that_entry(
    gateway_config, sandbox_entry, master, tmp_path
):
    second = {**sandbox_entry, "name": "other", "storage_dir": str(tmp_path / "other")}
    gateway_config({"files_settings": [sandbox_entry, second]})
    mine = master.upload(b"x", purpose="batch", extra={"custom_llm_provider": "other"}).json()
    master.upload(b"y", purpose="batch", extra={"custom_llm_provider": "sandbox"})
    listed = master.get("/v1/files", {"custom_llm_provider": "other"}).json()["data"]
    assert [f["id"] for f in listed] == [mine["id"]]
    assert len(master.get("/v1/files").json()["data"]) == 2
    unknown = master.get("/v1/files", {"custom_llm_provider": "azure"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "custom_llm_provider"
