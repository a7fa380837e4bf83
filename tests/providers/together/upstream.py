"""Together AI as its API reference and the ``together`` SDK show it: the
answers the tests stub at the HTTP boundary."""

from __future__ import annotations

import json
from typing import Any

import responses

from ftproxy.providers.together import TogetherProvider

API = "https://api.together.test/v1"
STORAGE = "https://storage.together.test/signed"
KEY = "tg-secret-key-0123456789"
FILE = "file-30b2f515-c146-4780-80e6-d8a84f4caaaa"
JOB = "ft-0f4e79c4-7f15-48a3-8a2d-0ff88fc6f145"
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def entry(**overrides: Any) -> dict[str, Any]:
    return {
        "custom_llm_provider": "together",
        "name": "together",
        "api_key": KEY,
        "api_base": API,
        "max_retries": 2,
        **overrides,
    }


def provider(**overrides: Any) -> TogetherProvider:
    return TogetherProvider(entry(**overrides))


def file_json(**fields: Any) -> dict[str, Any]:
    """A ``FileResponse`` (the ``together`` SDK's test answers)."""
    return {
        "id": FILE,
        "object": "file",
        "created_at": 1732480355,
        "purpose": "fine-tune",
        "filename": "train.jsonl",
        "bytes": 0,
        "FileType": "jsonl",
        "LineCount": 0,
        "Processed": True,
        **fields,
    }


def job_json(status: str = "pending", **fields: Any) -> dict[str, Any]:
    """A ``FinetuneResponse`` (the API reference's example answer)."""
    return {
        "id": JOB,
        "status": status,
        "created_at": "2023-05-17T17:35:45.123Z",
        "updated_at": "2023-05-17T18:46:23.456Z",
        "user_id": "user_01234567890123456789",
        "owner_address": "someone@example.com",
        "total_price": 1500,
        "token_count": 850000,
        "events": [],
        "model": MODEL,
        "model_output_name": "mynamespace/Meta-Llama-3.1-8B-Instruct-Reference-32162631",
        "n_epochs": 3,
        "batch_size": 8,
        "learning_rate": 1e-05,
        "training_file": FILE,
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        **fields,
    }


def stub_upload(mocked: responses.RequestsMock, answer: dict[str, Any] | None = None) -> None:
    """The signed-URL upload: 302 with the URL and id, the PUT, the preprocess."""
    mocked.add(
        responses.POST,
        f"{API}/files",
        status=302,
        headers={"Location": STORAGE, "X-Together-File-Id": FILE},
    )
    mocked.add(responses.PUT, STORAGE, status=200)
    mocked.add(responses.POST, f"{API}/files/{FILE}/preprocess", json=answer or file_json())


def sent_json(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)
