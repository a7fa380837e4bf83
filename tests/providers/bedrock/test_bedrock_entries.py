"""Bedrock entries: each key's value is checked when the YAML is loaded,
naming the file, the entry and the key; secrets come from the environment
and never show."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from ftproxy.config import load_config

from .helpers import entry


def load(tmp_path: Path, bedrock: dict, api: str = "finetune_settings"):
    bedrock = {k: v for k, v in bedrock.items() if k != "api"}
    path = tmp_path / "ftproxy.yaml"
    path.write_text(yaml.safe_dump({api: [bedrock]}), encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"aws_region_name": "the moon"}, "aws_region_name"),
        ({"aws_secret_access_key": None}, "go together"),
        ({"role_arn": "bedrock-role"}, "role_arn"),
        ({"role_arn": None}, "'role_arn' is required"),
        ({"output_s3_uri": "bucket/out"}, "output_s3_uri"),
        ({"output_s3_uri": None}, "'output_s3_uri' is required"),
        ({"s3_bucket": "s3://train-data"}, "s3_bucket"),
        ({"s3_bucket": None}, "'s3_bucket' is required"),
        ({"aws_endpoint_url": "localhost:5000"}, "aws_endpoint_url"),
        ({"aws_role_name": "gateway"}, "aws_role_name"),
        ({"vpc_config": {"subnetIds": ["s-1"]}}, "vpc_config"),
        ({"region": "us-east-1"}, "region"),  # an unknown key
    ],
)
def test_a_bad_value_stops_start_up_naming_the_key(tmp_path, change, words):
    with pytest.raises(ImproperlyConfigured) as caught:
        load(tmp_path, {k: v for k, v in {**entry(), **change}.items() if v is not None})
    message = str(caught.value)
    assert "finetune_settings[0]" in message and words in message


def test_a_files_entry_needs_no_role_or_output(tmp_path):
    loaded = load(tmp_path, entry(role_arn=None, output_s3_uri=None), api="files_settings")
    assert loaded["files_settings"][0]["s3_bucket"] == "train-data"


def test_the_secret_is_read_from_the_environment_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("BEDROCK_SECRET", "from-the-environment-0123456789")
    loaded = load(tmp_path, entry(aws_secret_access_key="os.environ/BEDROCK_SECRET"))
    from ftproxy.providers.bedrock import BedrockProvider

    bedrock = BedrockProvider(loaded["finetune_settings"][0])
    assert bedrock.aws.secrets == ("from-the-environment-0123456789",)
    assert "from-the-environment" not in repr(bedrock)
