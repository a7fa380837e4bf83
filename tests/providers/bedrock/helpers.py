"""Entries, files and jobs for the Bedrock tests, over moto's server."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3

from ftproxy.providers.bedrock import BedrockProvider
from ftproxy.providers.data import FileUpload, JobCreate

from .moto_aws import ACCOUNT, REGION

BUCKET = "train-data"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization"
OUTPUT = f"s3://{BUCKET}/output/"
NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
TITAN = "amazon.titan-text-express-v1:0:8k"
#: The entry's secret key: it must never show in an answer, a log or a row.
SECRET = "bedrock-test-secret-key-0123456789abcdef"
ACCESS_KEY = "AKIATESTBEDROCK00001"


def entry(api: str = "finetune_settings", **overrides: Any) -> dict[str, Any]:
    """A config entry as the loader hands it over (env already resolved)."""
    value = {
        "custom_llm_provider": "bedrock",
        "name": "bedrock",
        "api": api,
        "aws_region_name": REGION,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET,
        "role_arn": ROLE,
        "s3_bucket": BUCKET,
        "s3_prefix": "team-a",
        "output_s3_uri": OUTPUT,
        "max_retries": 0,
        "timeout": 10,
    }
    value.update(overrides)
    return {k: v for k, v in value.items() if v is not None}


def provider(**overrides: Any) -> BedrockProvider:
    return BedrockProvider(entry(**overrides))


def chat(*turns: tuple[str, str], system: str | None = None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": role, "content": text} for role, text in turns]
    return {"messages": messages}


def jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def upload(bedrock: BedrockProvider, data: bytes, gateway_id: str | None = "file-0001"):
    stream = io.BytesIO(data)
    return bedrock.upload_file(
        FileUpload("train.jsonl", "fine-tune", stream, len(data), gateway_id=gateway_id)
    )


def new_job(bedrock: BedrockProvider, training: str, **fields: Any):
    fields.setdefault("gateway_id", "ftjob-00000000000000000000000a")
    return bedrock.create_job(JobCreate(model=fields.pop("model", NOVA), training_file=training,
                                        **fields))  # fmt: skip


def s3(endpoint: str):
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
    )


def read_object(endpoint: str, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
