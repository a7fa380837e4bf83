"""A succeeded job's result files enter the ledger with the size and name
their provider gives them; a file list never answers ``bytes: null``."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from ftproxy.models import File
from tests.conftest import TRAINING
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

UPSTREAM = "https://upstream.test/v1"
RESULT = "file-result-1"


def job_json(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-r",
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1_700_000_000,
        "finished_at": 1_700_000_600,
        "fine_tuned_model": "ft:gpt-4o-mini:org::abc",
        "organization_id": "org-1",
        "result_files": [RESULT],
        "status": status,
        "validation_file": None,
        "training_file": "file-train",
        "hyperparameters": {"n_epochs": 3},
        "trained_tokens": 1000,
        "error": None,
        "seed": 7,
        **extra,
    }


FILE_JSON = {
    "id": RESULT,
    "object": "file",
    "bytes": 4321,
    "created_at": 1_700_000_600,
    "filename": "step_metrics.csv",
    "purpose": "fine-tune-results",
    "status": "processed",
}


@pytest.fixture
def openai(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": UPSTREAM}
    entry["max_retries"] = 0
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    ledger_job("ftjob-r", "running")


def test_result_files_are_registered_with_the_providers_size_and_name(openai, master):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{UPSTREAM}/fine_tuning/jobs/ftjob-r", json=job_json("succeeded"))
        rsps.get(f"{UPSTREAM}/files/{RESULT}", json=FILE_JSON)
        assert master.get("/v1/fine_tuning/jobs/ftjob-r").json()["status"] == "succeeded"
    row = File.objects.get(public_id=RESULT)
    assert (row.bytes, row.filename, row.purpose) == (4321, "step_metrics.csv", "fine-tune-results")
    listed = master.get("/v1/files").json()["data"]  # no upstream call: the ledger knows
    assert [(f["id"], f["bytes"]) for f in listed] == [(RESULT, 4321)]


def test_a_result_file_the_provider_could_not_describe_is_asked_again_by_the_list(openai, master):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{UPSTREAM}/fine_tuning/jobs/ftjob-r", json=job_json("succeeded"))
        rsps.get(f"{UPSTREAM}/files/{RESULT}", status=500, json={"error": {"message": "x"}})
        assert master.get("/v1/fine_tuning/jobs/ftjob-r").json()["status"] == "succeeded"
    assert File.objects.get(public_id=RESULT).bytes is None  # the job's success stands
    with responses.RequestsMock() as rsps:
        rsps.get(f"{UPSTREAM}/files/{RESULT}", status=503, json={"error": {"message": "x"}})
        listed = master.get("/v1/files").json()["data"]
    assert listed[0]["bytes"] == 0  # still unknown: an integer all the same
    with responses.RequestsMock() as rsps:
        rsps.get(f"{UPSTREAM}/files/{RESULT}", json=FILE_JSON)
        listed = master.get("/v1/files").json()["data"]
    assert (listed[0]["bytes"], listed[0]["filename"]) == (4321, "step_metrics.csv")
    assert File.objects.get(public_id=RESULT).bytes == 4321


def test_sandbox_result_files_have_integer_bytes_in_lists(gateway_config, sandbox_entry, master):
    gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 0}],
            "files_settings": [sandbox_entry],
        }
    )
    training = master.upload(TRAINING).json()["id"]
    job = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": training}
    ).json()
    assert job["status"] == "succeeded"
    files = master.get("/v1/files").json()["data"]
    result = next(f for f in files if f["id"] == job["result_files"][0])
    content = b"".join(master.get(f"/v1/files/{result['id']}/content").streaming_content)
    assert result["bytes"] == len(content) > 0
    assert result["filename"] == "step_metrics.csv"
    assert sum(f["bytes"] for f in files) == len(TRAINING) + len(content)
