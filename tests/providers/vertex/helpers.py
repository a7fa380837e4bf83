"""Shared fixtures for the Vertex AI provider tests: a real RSA service-account
key (google-auth signs real JWTs with it), entries, and TuningJob payloads."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ftproxy.providers.vertex import VertexProvider

PROJECT = "proj-1"
LOCATION = "us-central1"
API = f"https://{LOCATION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{LOCATION}"
#: Where an open model's job is created (its fields are defined in v1beta1).
API_BETA = API.replace("/v1/", "/v1beta1/", 1)
JOB_NAME = f"projects/{PROJECT}/locations/{LOCATION}/tuningJobs/123"
JOB_URL = f"https://{LOCATION}-aiplatform.googleapis.com/v1/{JOB_NAME}"
GCS = "https://storage.googleapis.com"
BUCKET = "tuning-data"
TOKEN_URI = "https://oauth2.example.test/token"
ACCESS_TOKEN = "ya29.test-token"
CLIENT_EMAIL = "gateway@proj-1.iam.gserviceaccount.com"


@lru_cache(maxsize=1)
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_info(token_uri: str = TOKEN_URI) -> dict[str, Any]:
    pem = private_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "key-1",
        "private_key": pem.decode(),
        "client_email": CLIENT_EMAIL,
        "client_id": "1",
        "token_uri": token_uri,
    }


def entry(api: str = "finetune_settings", **overrides: Any) -> dict[str, Any]:
    """A config entry as the loader hands it over (env already resolved)."""
    value = {
        "custom_llm_provider": "vertex_ai",
        "name": "vertex_ai",
        "api": api,
        "vertex_project": PROJECT,
        "vertex_location": LOCATION,
        "vertex_credentials": json.dumps(service_account_info()),
        "gcs_bucket_name": f"{BUCKET}/team-a",
        "max_retries": 0,
    }
    value.update(overrides)
    return value


def provider(**overrides: Any) -> VertexProvider:
    return VertexProvider(entry(**overrides))


def mock_token(rsps: responses.RequestsMock) -> None:
    rsps.add(
        responses.POST,
        TOKEN_URI,
        json={"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"},
    )


def tuning_job(state: str = "JOB_STATE_RUNNING", **fields: Any) -> dict[str, Any]:
    """A TuningJob as Vertex returns it (proto3 JSON: int64 as strings)."""
    job = {
        "name": JOB_NAME,
        "tunedModelDisplayName": "support-bot",
        "baseModel": "gemini-2.0-flash-001",
        "supervisedTuningSpec": {
            "trainingDatasetUri": f"gs://{BUCKET}/team-a/ftproxy/x/gemini/train.jsonl",
            "hyperParameters": {"epochCount": "3", "learningRateMultiplier": 1.0},
        },
        "state": state,
        "createTime": "2025-03-01T10:00:00.123456Z",
        "updateTime": "2025-03-01T10:05:00.5Z",
        "labels": {"team": "support"},
    }
    job.update(fields)
    return job
