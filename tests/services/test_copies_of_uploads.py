"""A file made by the Uploads API may be larger than ``max_upload_mb`` (it
is bounded by ``max_upload_total_mb``): it is still an ordinary file, so a
job on another entry copies it, and an entry with an Uploads API of its
own (OpenAI) receives the copy through it, in parts."""

from __future__ import annotations

import json
import tempfile

import pytest
import responses

from ftproxy.models import File
from tests.api.test_uploads import add_part, complete, create
from tests.conftest import TRAINING, chat_line, jsonl

OPENAI = "https://api.openai.test/v1"
#: Smaller than TRAINING: POST /files would refuse it, the Uploads API takes it.
SMALL_LIMIT_MB = 0.0005


@pytest.fixture
def big_upload(master):
    def make(provider: str) -> str:
        upload_id = create(master, headers={"custom-llm-provider": provider}).json()["id"]
        part = add_part(master, upload_id, TRAINING).json()["id"]
        done = complete(master, upload_id, [part])
        assert done.status_code == 200, done.content
        return done.json()["file"]["id"]

    return make


def test_an_uploaded_file_over_max_upload_mb_is_copied_to_another_entry(
    gateway_config, sandbox_entry, master, big_upload
):
    second = {**sandbox_entry, "name": "sandbox-b"}
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, second],
            "files_settings": [dict(sandbox_entry), dict(second)],
            "ftproxy_settings": {"max_upload_mb": SMALL_LIMIT_MB},
        }
    )
    assert len(TRAINING) > SMALL_LIMIT_MB * 1024 * 1024
    file_id = big_upload("sandbox")
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": file_id, "custom_llm_provider": "sandbox-b"},
    )
    assert response.status_code == 200, response.content
    copy = File.objects.get(copied_from__public_id=file_id)
    assert (copy.provider, copy.bytes) == ("sandbox-b", len(TRAINING))


def test_a_copy_over_max_upload_mb_reaches_openai_through_its_uploads_api(
    gateway_config, sandbox_entry, master, big_upload
):
    openai = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": OPENAI}
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, openai],
            "files_settings": [dict(sandbox_entry), dict(openai)],
            "ftproxy_settings": {"max_upload_mb": SMALL_LIMIT_MB},
        }
    )
    file_id = big_upload("sandbox")
    received = {}

    def part(request):
        received["part"] = (
            b"".join(request.body) if not isinstance(request.body, bytes) else request.body
        )
        return (
            200,
            {},
            json.dumps({"id": "part_1", "object": "upload.part", "upload_id": "upload_1"}),
        )

    uploaded = {
        "id": "file-up-1",
        "object": "file",
        "bytes": len(TRAINING),
        "created_at": 1_700_000_000,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }
    with responses.RequestsMock() as rsps:
        create_call = rsps.post(
            f"{OPENAI}/uploads",
            json={
                "id": "upload_1",
                "object": "upload",
                "status": "pending",
                "bytes": len(TRAINING),
            },
        )
        rsps.add_callback(responses.POST, f"{OPENAI}/uploads/upload_1/parts", callback=part)
        done = rsps.post(
            f"{OPENAI}/uploads/upload_1/complete",
            json={"id": "upload_1", "object": "upload", "status": "completed", "file": uploaded},
        )
        rsps.post(
            f"{OPENAI}/fine_tuning/jobs",
            json={
                "id": "ftjob-1",
                "object": "fine_tuning.job",
                "created_at": 1_700_000_100,
                "model": "gpt-4o-mini",
                "status": "queued",
                "training_file": "file-up-1",
                "hyperparameters": {},
                "result_files": [],
            },
        )
        response = master.post_json(
            "/v1/fine_tuning/jobs",
            {"model": "gpt-4o-mini", "training_file": file_id, "custom_llm_provider": "openai"},
        )
    assert response.status_code == 200, response.content
    assert json.loads(create_call.calls[0].request.body)["bytes"] == len(TRAINING)
    assert TRAINING in received["part"]
    assert json.loads(done.calls[0].request.body)["part_ids"] == ["part_1"]
    copy = File.objects.get(copied_from__public_id=file_id)
    assert (copy.provider, copy.remote_id) == ("openai", "file-up-1")


def test_a_large_copy_is_spooled_on_the_gateways_disk_not_in_the_system_temp_dir(
    gateway_config, sandbox_entry, master, monkeypatch, tmp_path
):
    second = {**sandbox_entry, "name": "sandbox-b"}
    gateway_config(
        {
            "finetune_settings": [sandbox_entry, second],
            "files_settings": [dict(sandbox_entry), dict(second)],
        }
    )
    data = jsonl(*(chat_line(f"q{i} " + "x" * 1000, f"a{i}") for i in range(1500)))
    assert len(data) > 1024 * 1024  # past what the spool keeps in memory
    upload_id = create(master, len(data), headers={"custom-llm-provider": "sandbox"}).json()["id"]
    part = add_part(master, upload_id, data).json()["id"]
    file_id = complete(master, upload_id, [part]).json()["file"]["id"]
    # Any use of the system temp directory (often RAM-backed) fails.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": file_id, "custom_llm_provider": "sandbox-b"},
    )
    assert response.status_code == 200, response.content
    assert File.objects.get(copied_from__public_id=file_id).bytes == len(data)
