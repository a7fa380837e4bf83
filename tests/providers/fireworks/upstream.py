"""Fireworks AI as its REST reference and the ``fireworks-ai`` SDK show it:
the answers the tests stub at the HTTP boundary."""

from __future__ import annotations

from typing import Any

from ftproxy.providers.fireworks import FireworksProvider

ACCOUNT = "acme"
ROOT = "https://api.fireworks.test"
API = f"{ROOT}/v1/accounts/{ACCOUNT}"
KEY = "fw-secret-key-0123456789"
DATASET = "file-5f0c9e2a7b1d4c3e8a6b2d1f"
JOB = "ftjob-9c8b7a6f5e4d3c2b1a0f9e8d"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SIGNED = "https://storage.fireworks.test/signed/train.jsonl"


def entry(**overrides: Any) -> dict[str, Any]:
    return {
        "custom_llm_provider": "fireworks",
        "name": "fireworks",
        "api_key": KEY,
        "account_id": ACCOUNT,
        "api_base": ROOT,
        "max_retries": 2,
        **overrides,
    }


def provider(**overrides: Any) -> FireworksProvider:
    return FireworksProvider(entry(**overrides))


def dataset_json(state: str = "READY", **fields: Any) -> dict[str, Any]:
    """A ``Dataset`` (the REST reference's Create Dataset answer)."""
    return {
        "name": f"accounts/{ACCOUNT}/datasets/{DATASET}",
        "displayName": "train.jsonl",
        "createTime": "2023-11-07T05:31:56Z",
        "state": state,
        "status": {"code": "OK", "message": ""},
        "exampleCount": "10",
        "userUploaded": {},
        "format": "CHAT",
        **fields,
    }


def job_json(state: str = "JOB_STATE_CREATING", **fields: Any) -> dict[str, Any]:
    """A ``SupervisedFineTuningJob`` (the REST reference's Get answer)."""
    return {
        "name": f"accounts/{ACCOUNT}/supervisedFineTuningJobs/{JOB}",
        "displayName": "support",
        "createTime": "2023-11-07T05:31:56Z",
        "completedTime": "2023-11-07T07:31:56Z",
        "state": state,
        "status": {"code": "OK", "message": ""},
        "createdBy": "someone@example.com",
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}",
        "outputModel": f"accounts/{ACCOUNT}/models/{JOB}",
        "baseModel": MODEL,
        "epochs": 2,
        "learningRate": 0.0001,
        "loraRank": 8,
        "updateTime": "2023-11-07T07:31:56Z",
        "jobProgress": {"percent": 40, "epoch": 1, "inputTokens": 1200},
        **fields,
    }


def dpo_job_json(state: str = "JOB_STATE_CREATING", **fields: Any) -> dict[str, Any]:
    """A ``DpoJob`` (the SDK's ``types/dpo_job.py``): its settings nested in
    ``trainingConfig``."""
    return {
        "name": f"accounts/{ACCOUNT}/dpoJobs/{JOB}",
        "createTime": "2023-11-07T05:31:56Z",
        "completedTime": "2023-11-07T07:31:56Z",
        "state": state,
        "status": {"code": "OK", "message": ""},
        "createdBy": "someone@example.com",
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}",
        "trainingConfig": {
            "baseModel": MODEL,
            "outputModel": f"accounts/{ACCOUNT}/models/{JOB}",
            "epochs": 2,
            "batchSizeSamples": 8,
            "learningRate": 5e-5,
            "loraRank": 8,
        },
        "lossConfig": {"method": "DPO"},
        **fields,
    }
