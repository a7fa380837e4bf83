"""``/v1/uploads``: every refusal, isolation, idempotency, expiry and cleanup."""

from __future__ import annotations

import hashlib
import io
import json
import time

import pytest
import responses
from django.core.management import call_command

from ftproxy.models import AuditEntry, File, Upload, UploadPart
from ftproxy.services.ledger.context import MASTER, CallContext
from ftproxy.services.uploads import service as upload_service
from ftproxy.services.uploads import store as upload_store
from ftproxy.services.uploads.cleanup import clean_up_uploads
from tests.conftest import TRAINING

OPENAI_BASE = "https://api.openai.test/v1"


SIZE = len(TRAINING)


def create(api, size=SIZE, path="/v1/uploads", headers=None, **fields):
    body = {
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "bytes": size,
        "mime_type": "text/jsonl",
        **fields,
    }
    return api.post_json(path, body, headers=headers)


def add_part(api, upload_id, data, **extra):
    handle = io.BytesIO(data)
    handle.name = "blob"
    return api.client.post(
        f"/v1/uploads/{upload_id}/parts", {"data": handle}, **api.request_headers(None), **extra
    )


def complete(api, upload_id, part_ids, headers=None, **fields):
    return api.post_json(
        f"/v1/uploads/{upload_id}/complete", {"part_ids": part_ids, **fields}, headers=headers
    )


def upload_in_parts(api, data=TRAINING, cut=None):
    """A pending upload holding ``data`` in two parts; returns its id and part ids."""
    cut = cut or len(data) // 2
    upload_id = create(api, len(data)).json()["id"]
    parts = [add_part(api, upload_id, chunk).json()["id"] for chunk in (data[:cut], data[cut:])]
    return upload_id, parts


def error(response):
    return response.json()["error"]


@pytest.fixture
def openai_files(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": OPENAI_BASE}
    return gateway_config({"files_settings": [entry], "finetune_settings": [dict(entry)]})


# ---- the happy path, in OpenAI's shapes ------------------------------------


def test_create_add_complete_answers_openai_shapes_and_a_ledger_file(sandbox, master):
    created = create(master, len(TRAINING), path="/uploads")  # without /v1 too
    assert created.status_code == 200
    body = created.json()
    assert body["id"].startswith("upload-") and body["object"] == "upload"
    assert body["status"] == "pending" and body["file"] is None
    assert body["expires_at"] - body["created_at"] == 3600
    assert (body["bytes"], body["filename"], body["purpose"]) == (
        len(TRAINING),
        "train.jsonl",
        "fine-tune",
    )
    part = add_part(master, body["id"], TRAINING).json()
    assert part["object"] == "upload.part" and part["upload_id"] == body["id"]
    assert part["id"].startswith("part-") and isinstance(part["created_at"], int)
    done = complete(master, body["id"], [part["id"]], md5=hashlib.md5(TRAINING).hexdigest())
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "completed"
    file_id = done.json()["file"]["id"]
    assert master.get(f"/v1/files/{file_id}").json()["bytes"] == len(TRAINING)
    row = File.objects.get(public_id=file_id)
    assert row.sha256 == hashlib.sha256(TRAINING).hexdigest() and row.estimated_tokens
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "object_id"))
    assert [a for a, _ in actions] == [
        "uploads.create",
        "uploads.parts.create",
        "uploads.complete",
        "files.retrieve",
    ]
    assert actions[0][1] == body["id"] and actions[1][1] == part["id"]
    assert actions[2][1] == body["id"]


def test_expires_after_reaches_the_resulting_file(sandbox, master):
    upload_id = create(master, expires_after={"anchor": "created_at", "seconds": 7200}).json()["id"]
    part = add_part(master, upload_id, TRAINING).json()["id"]
    file = complete(master, upload_id, [part]).json()["file"]
    assert file["expires_at"] - file["created_at"] == 7200


# ---- refusals at create -----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"bytes": 0}, "bytes"),
        ({"bytes": "many"}, "bytes"),
        ({"purpose": "training"}, "purpose"),
        ({"mime_type": None}, "mime_type"),
        ({"expires_after": {"anchor": "created_at", "seconds": 60}}, "expires_after"),
        ({"colour": "blue"}, "colour"),
        ({"custom_llm_provider": "nowhere"}, "custom_llm_provider"),
    ],
)
def test_create_refuses_bad_fields_naming_them(sandbox, master, fields, param):
    response = create(master, **fields)
    assert response.status_code == 400
    assert (error(response)["param"] or "").startswith(param)
    assert not Upload.objects.exists()


def test_declared_bytes_over_the_gateway_limit_is_413(gateway_config, sandbox_entry, master):
    gateway_config(
        {"files_settings": [sandbox_entry], "ftproxy_settings": {"max_upload_total_mb": 1}}
    )
    response = create(master, 1024 * 1024 + 1)
    assert response.status_code == 413
    assert error(response)["param"] == "bytes"
    assert "max_upload_total_mb" in error(response)["message"]
    assert create(master, 1024 * 1024).status_code == 200


def test_the_default_total_limit_is_8_gb(sandbox, master):
    assert create(master, 8192 * 1024 * 1024).status_code == 200
    assert create(master, 8192 * 1024 * 1024 + 1).status_code == 413


# ---- refusals of parts --------------------------------------------------------


def test_a_part_declared_over_64_mb_is_413_before_it_is_read(sandbox, master):
    upload_id = create(master).json()["id"]
    response = add_part(master, upload_id, b"x", CONTENT_LENGTH=str(65 * 1024 * 1024 + 2**20))
    assert response.status_code == 413
    assert error(response)["param"] == "data"


def test_a_part_over_64_mb_is_refused_by_the_service(sandbox, db):
    upload = upload_service.create_upload(
        CallContext(MASTER),
        filename="x",
        purpose="batch",
        size=10**9,
        mime_type="text/plain",
        expires_after=None,
        entry=None,
    )
    with pytest.raises(upload_service.TooLarge):
        upload_service.add_part(
            CallContext(MASTER),
            upload.public_id,
            stream=io.BytesIO(b""),
            size=upload_service.MAX_PART_BYTES + 1,
        )
    assert not UploadPart.objects.exists()


def test_a_part_without_data_or_empty_is_400(sandbox, master):
    upload_id = create(master).json()["id"]
    response = master.client.post(
        f"/v1/uploads/{upload_id}/parts", {"other": "x"}, **master.request_headers(None)
    )
    assert response.status_code == 400 and error(response)["param"] == "data"
    response = add_part(master, upload_id, b"")
    assert response.status_code == 400 and error(response)["param"] == "data"


def test_parts_past_the_declared_total_are_400_and_nothing_is_kept(sandbox, master):
    upload_id = create(master, 10).json()["id"]
    assert add_part(master, upload_id, b"x" * 6).status_code == 200
    response = add_part(master, upload_id, b"x" * 5)
    assert response.status_code == 400 and error(response)["param"] == "data"
    row = Upload.objects.get(public_id=upload_id)
    assert row.bytes_received == 6 and row.parts.count() == 1
    assert len(upload_store.storage().listdir(upload_id)[1]) == 1


def test_parts_after_complete_or_cancel_are_400(sandbox, master):
    done, parts = upload_in_parts(master)
    assert complete(master, done, parts).status_code == 200
    response = add_part(master, done, b"more")
    assert response.status_code == 400 and error(response)["code"] == "upload_completed"
    cancelled = create(master).json()["id"]
    assert master.post_json(f"/v1/uploads/{cancelled}/cancel").json()["status"] == "cancelled"
    response = add_part(master, cancelled, b"more")
    assert response.status_code == 400 and error(response)["code"] == "upload_cancelled"
    response = complete(master, cancelled, ["part-x"])
    assert response.status_code == 400 and error(response)["param"] == "upload_id"


# ---- refusals at complete -------------------------------------------------------


def test_complete_refuses_parts_of_another_upload(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    _, others = upload_in_parts(master)
    response = complete(master, upload_id, [parts[0], others[1]])
    assert response.status_code == 400
    assert error(response)["param"] == "part_ids" and others[1] in error(response)["message"]


@pytest.mark.parametrize(
    ("part_ids", "param"), [([], "part_ids"), (["dup", "dup"], "part_ids"), ("p", "part_ids")]
)
def test_complete_refuses_malformed_part_ids(sandbox, master, part_ids, param):
    upload_id, parts = upload_in_parts(master)
    if part_ids == ["dup", "dup"]:
        part_ids = [parts[0], parts[0]]
    response = complete(master, upload_id, part_ids)
    assert response.status_code == 400 and error(response)["param"] == param


def test_complete_refuses_a_byte_total_other_than_declared(sandbox, master):
    upload_id = create(master, len(TRAINING)).json()["id"]
    part = add_part(master, upload_id, TRAINING[:100]).json()["id"]
    response = complete(master, upload_id, [part])
    assert response.status_code == 400 and error(response)["param"] == "bytes"
    assert Upload.objects.get(public_id=upload_id).status == "pending"


def test_complete_refuses_a_wrong_md5_and_stays_pending(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    response = complete(master, upload_id, parts, md5="0" * 32)
    assert response.status_code == 400 and error(response)["param"] == "md5"
    response = complete(master, upload_id, parts, md5="not-an-md5")
    assert response.status_code == 400 and error(response)["param"] == "md5"
    assert not File.objects.exists()
    good = complete(master, upload_id, parts, md5=hashlib.md5(TRAINING).hexdigest())
    assert good.status_code == 200


def test_parts_in_the_wrong_order_fail_validation_with_line_numbers(sandbox, master):
    upload_id, parts = upload_in_parts(master, cut=len(TRAINING) // 2 + 7)
    response = complete(master, upload_id, parts[::-1])
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_file_format"
    assert "line 1" in error(response)["message"].lower()
    assert complete(master, upload_id, parts).status_code == 200


# ---- isolation ------------------------------------------------------------------------


def test_another_keys_upload_is_404_and_the_master_key_sees_it(sandbox, api_as, make_key):
    alice, bob = api_as(make_key("alice")), api_as(make_key("bob"))
    upload_id, parts = upload_in_parts(alice)
    assert add_part(bob, upload_id, b"x").status_code == 404
    assert complete(bob, upload_id, parts).status_code == 404
    assert bob.post_json(f"/v1/uploads/{upload_id}/cancel").status_code == 404
    assert error(complete(bob, upload_id, parts))["code"] == "not_found"
    file = complete(alice, upload_id, parts).json()["file"]
    assert bob.get(f"/v1/files/{file['id']}").status_code == 404
    assert alice.get(f"/v1/files/{file['id']}").status_code == 200
    assert Upload.objects.get(public_id=upload_id).owner.name == "alice"


def test_a_key_completing_via_master_keeps_the_owner(sandbox, api_as, make_key, master):
    alice = api_as(make_key("alice"))
    upload_id, parts = upload_in_parts(alice)
    file = complete(master, upload_id, parts).json()["file"]
    assert alice.get(f"/v1/files/{file['id']}").status_code == 200


# ---- idempotency ------------------------------------------------------------------------


def test_create_with_an_idempotency_key_replays(sandbox, master):
    first = create(master, headers={"Idempotency-Key": "k1"})
    again = create(master, headers={"Idempotency-Key": "k1"})
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Upload.objects.count() == 1
    other = create(master, size=5, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400 and error(other)["param"] == "Idempotency-Key"


def test_complete_with_an_idempotency_key_replays_the_same_file(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    first = complete(master, upload_id, parts, headers={"Idempotency-Key": "c1"})
    again = complete(master, upload_id, parts, headers={"Idempotency-Key": "c1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert File.objects.count() == 1
    without_key = complete(master, upload_id, parts)
    assert without_key.status_code == 400  # completed already


# ---- cancel, expiry and cleanup -----------------------------------------------------------


def test_cancel_frees_the_parts_and_answers_cancelled(sandbox, master):
    upload_id, _ = upload_in_parts(master)
    assert upload_store.storage().exists(upload_id)
    body = master.post_json(f"/v1/uploads/{upload_id}/cancel").json()
    assert body["status"] == "cancelled"
    assert not upload_store.storage().exists(upload_id)
    assert master.post_json(f"/v1/uploads/{upload_id}/cancel").json()["status"] == "cancelled"


def test_cancel_of_a_completed_upload_is_400(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    complete(master, upload_id, parts)
    response = master.post_json(f"/v1/uploads/{upload_id}/cancel")
    assert response.status_code == 400 and error(response)["code"] == "upload_completed"


def test_an_expired_upload_refuses_parts_and_a_sync_round_frees_it(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    other, _ = upload_in_parts(master)
    Upload.objects.update(expires_at=int(time.time()) - 1)
    response = add_part(master, upload_id, b"late")
    assert response.status_code == 400 and error(response)["code"] == "upload_expired"
    assert upload_store.storage().exists(other)
    out = io.StringIO()
    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())
    assert "uploads: expired=1 cancelled_upstream=0 freed=2 failed=0" in out.getvalue()
    assert not upload_store.storage().exists(upload_id)
    assert not upload_store.storage().exists(other)
    assert set(Upload.objects.values_list("status", "storage_freed")) == {("expired", True)}
    out = io.StringIO()
    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())
    assert "uploads:" not in out.getvalue()  # nothing left to do


# ---- forwarded uploads (OpenAI) ------------------------------------------------------------


def upstream_upload(status="pending"):
    return {
        "id": "upload_up1",
        "object": "upload",
        "status": status,
        "bytes": len(TRAINING),
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "created_at": int(time.time()),
        "expires_at": int(time.time()) + 3600,
    }


@responses.activate
def test_an_upstream_failure_on_a_part_keeps_nothing(openai_files, master):
    responses.add(responses.POST, f"{OPENAI_BASE}/uploads", json=upstream_upload())
    responses.add(
        responses.POST,
        f"{OPENAI_BASE}/uploads/upload_up1/parts",
        status=500,
        json={"error": {"message": "boom"}},
    )
    upload_id = create(master).json()["id"]
    response = add_part(master, upload_id, TRAINING)
    assert response.status_code == 502
    row = Upload.objects.get(public_id=upload_id)
    assert row.bytes_received == 0 and not row.parts.exists()
    assert "boom" in row.error
    assert not upload_store.storage().listdir(upload_id)[1]


@responses.activate
def test_an_upstream_failure_at_create_is_passed_on_and_recorded(openai_files, master):
    responses.add(
        responses.POST, f"{OPENAI_BASE}/uploads", status=400, json={"error": {"message": "no"}}
    )
    response = create(master)
    assert response.status_code == 400 and error(response)["message"] == "no"
    row = Upload.objects.get()
    assert row.status == "cancelled" and row.error == "no"


@responses.activate
def test_cancel_of_a_forwarded_upload_cancels_upstream(openai_files, master):
    responses.add(responses.POST, f"{OPENAI_BASE}/uploads", json=upstream_upload())
    cancel = responses.add(
        responses.POST,
        f"{OPENAI_BASE}/uploads/upload_up1/cancel",
        json=upstream_upload("cancelled"),
    )
    upload_id = create(master).json()["id"]
    assert master.post_json(f"/v1/uploads/{upload_id}/cancel").json()["status"] == "cancelled"
    assert cancel.call_count == 1
    assert not Upload.objects.get().remote_open


@responses.activate
def test_a_sync_round_cancels_an_expired_forwarded_upload_upstream(openai_files, master):
    responses.add(responses.POST, f"{OPENAI_BASE}/uploads", json=upstream_upload())
    responses.add(
        responses.POST, f"{OPENAI_BASE}/uploads/upload_up1/parts", json={"id": "part_up1"}
    )
    cancel = responses.add(
        responses.POST,
        f"{OPENAI_BASE}/uploads/upload_up1/cancel",
        json=upstream_upload("cancelled"),
    )
    upload_id = create(master).json()["id"]
    assert add_part(master, upload_id, TRAINING).status_code == 200
    Upload.objects.update(expires_at=int(time.time()) - 1)
    out = io.StringIO()
    call_command("ftproxy_sync_jobs", stdout=out, stderr=io.StringIO())
    assert "uploads: expired=1 cancelled_upstream=1 freed=1" in out.getvalue()
    assert cancel.call_count == 1
    row = Upload.objects.get()
    assert (row.status, row.remote_open, row.storage_freed) == ("expired", False, True)
    assert json.loads(responses.calls[0].request.body)["bytes"] == len(TRAINING)


def test_a_complete_abandoned_by_a_dead_worker_expires_an_hour_after_the_upload(sandbox, master):
    stuck, _ = upload_in_parts(master)
    running, _ = upload_in_parts(master)
    Upload.objects.update(status="completing")
    Upload.objects.filter(public_id=stuck).update(expires_at=int(time.time()) - 3601)
    Upload.objects.filter(public_id=running).update(expires_at=int(time.time()) - 60)
    result = clean_up_uploads()
    assert (result.expired, result.freed) == (1, 1)
    assert Upload.objects.get(public_id=stuck).status == "expired"
    assert Upload.objects.get(public_id=running).status == "completing"
    assert upload_store.storage().exists(running)


@pytest.mark.parametrize("where", ["body", "query", "header"])
def test_the_entry_picks_the_entry_and_the_ledger_routes_the_rest(
    gateway_config, sandbox_entry, master, tmp_path, where
):
    second = {**sandbox_entry, "name": "second", "storage_dir": str(tmp_path / "second")}
    gateway_config({"files_settings": [sandbox_entry, second]})
    if where == "body":
        response = create(master, custom_llm_provider="second")
    elif where == "query":
        response = create(master, path="/v1/uploads?custom_llm_provider=second")
    else:
        response = create(master, headers={"custom-llm-provider": "second"})
    assert response.status_code == 200, response.json()
    upload_id = response.json()["id"]
    assert Upload.objects.get(public_id=upload_id).provider == "second"
    part = add_part(master, upload_id, TRAINING).json()["id"]  # no hint: the ledger knows
    file_id = complete(master, upload_id, [part]).json()["file"]["id"]
    assert File.objects.get(public_id=file_id).provider == "second"
    assert error(create(master))["param"] == "custom_llm_provider"  # two entries, no hint


def test_options_the_entry_cannot_carry_are_refused_at_create(gateway_config, master):
    entry = {
        "custom_llm_provider": "azure",
        "api_key": "k",
        "api_base": "https://dated-res.openai.azure.com",
        "api_version": "2024-10-21",
    }
    gateway_config({"files_settings": [entry]})
    with responses.RequestsMock():  # nothing may reach Azure
        response = create(master, expires_after={"anchor": "created_at", "seconds": 3600})
    assert response.status_code == 400
    assert error(response)["param"] == "expires_after"
    assert "api_version: v1" in error(response)["message"]
    assert not Upload.objects.exists()


def test_parts_and_cancel_while_a_complete_runs_are_400(sandbox, master):
    upload_id, _ = upload_in_parts(master)
    Upload.objects.update(status="completing")
    response = add_part(master, upload_id, b"x")
    assert response.status_code == 400 and error(response)["code"] == "upload_in_progress"
    response = master.post_json(f"/v1/uploads/{upload_id}/cancel")
    assert response.status_code == 400 and error(response)["code"] == "upload_in_progress"
    response = complete(master, upload_id, ["part-x"])
    assert response.status_code == 400
