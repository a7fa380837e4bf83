"""The served schema states the rules the server enforces, and the server
refuses what the schema forbids: ``custom_llm_provider`` names a configured
entry (never blank, in a body, the query or the header, which agree),
text holds no NUL and is not blank where blank is refused, bodies take no
undeclared field."""

from __future__ import annotations

import pytest

from ftproxy.api.schema_rules import NO_NUL, NOT_BLANK
from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client, sandbox):
    return client.get("/openapi.json").json()


def test_the_entry_is_one_of_the_configured_ones_everywhere(schema):
    components = schema["components"]["schemas"]
    for name in ("JobCreate", "FileCreate", "UploadCreate", "UploadComplete", "UploadPart"):
        assert components[name]["properties"]["custom_llm_provider"]["enum"] == ["sandbox"]
    for path, operations in schema["paths"].items():
        if path.startswith("/v1/webhooks/"):
            continue  # an entry's own route: the path names it
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("custom_llm_provider", "custom-llm-provider"):
                    assert parameter["schema"]["enum"] == ["sandbox"], (path, parameter)


def test_text_rules_and_no_undeclared_fields(schema):
    job = schema["components"]["schemas"]["JobCreate"]
    assert job["additionalProperties"] is False
    assert job["properties"]["model"]["pattern"] == NOT_BLANK
    assert job["properties"]["model"]["minLength"] == 1
    assert job["properties"]["metadata"]["additionalProperties"]["pattern"] == NO_NUL
    assert schema["components"]["schemas"]["Hyperparameters"]["additionalProperties"] is False
    (after,) = [
        p for p in schema["paths"]["/v1/files"]["get"]["parameters"] if p["name"] == "after"
    ]
    assert after["schema"]["pattern"] == NOT_BLANK
    assert (
        schema["components"]["schemas"]["UploadComplete"]["properties"]["part_ids"]["minItems"] == 1
    )


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_entry_is_refused_in_every_body(sandbox, master, blank):
    training = master.upload(TRAINING).json()["id"]
    bodies = {
        "/v1/fine_tuning/jobs": {"model": "m", "training_file": training},
        "/v1/uploads": {
            "filename": "a.jsonl",
            "purpose": "fine-tune",
            "bytes": 1,
            "mime_type": "text/jsonl",
        },
    }
    for path, body in bodies.items():
        response = master.post_json(path, {**body, "custom_llm_provider": blank})
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["param"] == "custom_llm_provider"
    uploaded = master.upload(TRAINING, extra={"custom_llm_provider": blank})
    assert uploaded.status_code == 400
    assert uploaded.json()["error"]["param"] == "custom_llm_provider"


def test_a_blank_or_disagreeing_header_is_refused(sandbox, master):
    blank = master.get("/v1/files", headers={"custom-llm-provider": " "})
    assert blank.status_code == 400
    assert blank.json()["error"]["param"] == "custom-llm-provider"
    other = master.get(
        "/v1/files?custom_llm_provider=sandbox", headers={"custom-llm-provider": "elsewhere"}
    )
    assert other.status_code == 400
    assert "disagrees" in other.json()["error"]["message"]
    same = master.get(
        "/v1/files?custom_llm_provider=sandbox", headers={"custom-llm-provider": "sandbox"}
    )
    assert same.status_code == 200
