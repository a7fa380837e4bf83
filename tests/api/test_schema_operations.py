"""The OpenAPI schema describes each operation on its own, every query
parameter, and answers with real examples of the shapes the views send."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

QUERY_PARAMETERS = {
    ("/v1/files", "get"): {"purpose", "limit", "after", "order", "custom_llm_provider"},
    ("/v1/files/{file_id}", "get"): {"custom_llm_provider"},
    ("/v1/files/{file_id}", "delete"): {"custom_llm_provider"},
    ("/v1/files/{file_id}/content", "get"): {"custom_llm_provider"},
    ("/v1/fine_tuning/jobs", "get"): {"limit", "after", "metadata", "custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}", "get"): {"custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}/cancel", "post"): {"custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}/pause", "post"): {"custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}/resume", "post"): {"custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}/events", "get"): {"limit", "after", "custom_llm_provider"},
    ("/v1/fine_tuning/jobs/{job_id}/checkpoints", "get"): {
        "limit",
        "after",
        "custom_llm_provider",
    },
    ("/v1/models", "get"): {"custom_llm_provider"},
    ("/v1/models/{model}", "get"): {"custom_llm_provider"},
    ("/v1/models/{model}", "delete"): {"custom_llm_provider"},
    ("/v1/keys", "get"): {"limit", "after"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict[str, Any]:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def placeholders(value: Any) -> list[Any]:
    """The generic values a generated example would hold."""
    if isinstance(value, dict):
        return [found for item in value.values() for found in placeholders(item)]
    if isinstance(value, list):
        return [found for item in value for found in placeholders(item)]
    return [value] if value in ("string", 0) and not isinstance(value, bool) else []


def test_each_operation_has_a_summary_and_a_description_of_its_own(schema):
    seen: dict[str, tuple[str, str]] = {}
    for path, method, operation in operations(schema):
        summary, description = operation.get("summary"), operation.get("description")
        assert summary and description, (path, method)
        assert description not in seen, (path, method, seen.get(description))
        seen[description] = (path, method)
    pause = schema["paths"]["/v1/fine_tuning/jobs/{job_id}/pause"]["post"]["description"]
    assert pause.startswith("Pause") and "cancel" not in pause.lower()
    create = schema["paths"]["/v1/fine_tuning/jobs"]["post"]["description"]
    assert create.startswith("Create") and "list" not in create.lower()


def test_every_query_parameter_is_documented_with_a_description(schema):
    documented = {}
    for path, method, operation in operations(schema):
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        assert all(p.get("description") for p in query), (path, method, query)
        if query:
            documented[(path, method)] = {p["name"] for p in query}
    assert documented == QUERY_PARAMETERS


def test_every_json_answer_has_a_real_example_with_the_documented_fields(schema):
    for path, method, operation in operations(schema):
        if path.startswith("/v1/webhooks/"):
            continue  # the answer is whatever the webhook's job refresh says
        content = operation["responses"]["200"]["content"]
        if "application/json" not in content:
            continue  # the file's bytes
        answer = content["application/json"]
        assert answer.get("examples"), (path, method)
        shape = resolve(schema, answer["schema"])
        for example in answer["examples"].values():
            value = example["value"]
            assert set(value) == set(shape["properties"]), (path, method)
            assert not placeholders(value), (path, method, placeholders(value))


def test_the_creates_show_real_request_examples(schema):
    job = schema["paths"]["/v1/fine_tuning/jobs"]["post"]["requestBody"]["content"]
    (example,) = job["application/json"]["examples"].values()
    assert example["value"]["model"].startswith("gpt-4o-mini")
    upload = schema["paths"]["/v1/uploads"]["post"]["requestBody"]["content"]
    (example,) = upload["application/json"]["examples"].values()
    assert example["value"]["purpose"] == "fine-tune"
