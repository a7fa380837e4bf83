"""moto's server for the Bedrock tests: one per session, on loopback at a
free port, extended where moto lacks what AWS does (``moto_aws``)."""

from __future__ import annotations

import pytest
import requests

from .helpers import BUCKET, s3
from .moto_aws import extend_moto, start_moto


@pytest.fixture(scope="session")
def moto_endpoint():
    server, endpoint = start_moto()
    with extend_moto():
        yield endpoint
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """A fresh AWS behind moto, its endpoint left to botocore's resolution
    (``AWS_ENDPOINT_URL``); the bucket exists, no jobs yet."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=30).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s3(moto_endpoint).create_bucket(Bucket=BUCKET)
    return moto_endpoint
