"""The SDK's ``upload_file_chunked`` on an Azure entry with ``api_version:
v1``: Azure's v1 API has OpenAI's Uploads API, so the parts are forwarded
one by one, as for OpenAI (a dated version gets the assembled whole)."""

from __future__ import annotations

import hashlib
import json

import pytest
import responses

from tests.test_live_sdk_uploads import (
    DATA,
    OpenAIUpstream,
    assert_completed,
    chunked,
    parts_of,
    sdk,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db(transaction=True)

AZURE_V1 = "https://v1-res.openai.azure.com/openai/v1"


def test_chunked_upload_on_azure_v1_is_forwarded_part_by_part(sdk, gateway_config):  # noqa: F811
    entry = {
        "custom_llm_provider": "azure",
        "api_key": "azure-key",
        "api_base": "https://v1-res.openai.azure.com",
        "api_version": "v1",
    }
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    client = sdk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        upstream = OpenAIUpstream(rsps, AZURE_V1)
        upload = chunked(client, md5=hashlib.md5(DATA).hexdigest())
        row = assert_completed(upload)
        assert [c for c in upstream.calls if c[0] == "POST"] == [
            ("POST", "uploads"),
            *[("POST", "uploads/upload_up1/parts")] * parts_of(DATA),
            ("POST", "uploads/upload_up1/complete"),
        ]
        assert rsps.calls[0].request.headers["api-key"] == "azure-key"
        assert "api-version" not in rsps.calls[0].request.url
        assert json.loads(rsps.calls[0].request.body)["bytes"] == len(DATA)
        assert upstream.files[row.remote_id] == DATA
        assert client.files.content(upload.file.id).read() == DATA
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload.file.id)
        assert upstream.jobs[0]["training_file"] == row.remote_id
