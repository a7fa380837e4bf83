"""The rules the server enforces, written into the served schema, so that
what the schema allows the server takes and what it forbids the server
refuses (schemathesis checks both ways, ``tests/api/test_schema_fuzz.py``).

A postprocessing hook of drf-spectacular, run on every schema served:

- ``custom_llm_provider`` (body field, query parameter, and the
  ``custom-llm-provider`` header) is one of the configured entries of the
  route's API (files and uploads, or fine-tuning), read at that moment;
- text holds no NUL character (``hygiene``), and text that may not be
  blank holds more than whitespace (DRF trims it first);
- request bodies take no field they do not declare (``StrictSerializer``);
- an Upload declares at most ``max_upload_total_mb``.
"""

from __future__ import annotations

from typing import Any

from ..conf import FILES, FINE_TUNING, gateway
from .schema import route

ENTRY_NAMES = ("custom_llm_provider", "custom-llm-provider")
#: No NUL anywhere; and, where blank is refused, something besides whitespace.
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


def api_of(path: str) -> str | None:
    """Which configured entries a route's ``custom_llm_provider`` names."""
    path = route(path)
    if path.startswith(("/v1/files", "/v1/uploads")):
        return FILES
    if path.startswith(("/v1/fine_tuning", "/v1/models")):
        return FINE_TUNING
    return None


def text_rule(schema: dict[str, Any], *, blank: bool) -> None:
    """Add the server's text rule to a string schema of a request."""
    if schema.get("type") != "string" or {"enum", "format", "pattern"} & set(schema):
        return
    if blank:
        schema["pattern"] = NO_NUL
    else:
        schema["pattern"] = NOT_BLANK
        schema["minLength"] = max(1, schema.get("minLength", 0))


def _request_schema(
    schema: Any, components: dict[str, Any], seen: set[str], *, blank: bool = False
) -> None:
    """Walk a request body's schema: text rules, no undeclared fields. Text
    fields and list items are not blank (DRF's ``CharField``); the values of
    a free mapping (``metadata``) may be."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _request_schema(components.get(name), components, seen)
        return
    text_rule(schema, blank=blank)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema.setdefault("additionalProperties", False)
        for item in properties.values():
            _request_schema(item, components, seen)
    _request_schema(schema.get("items"), components, seen)
    _request_schema(schema.get("additionalProperties"), components, seen, blank=True)
    for key in ("oneOf", "anyOf", "allOf"):
        for item in schema.get(key) or []:
            _request_schema(item, components, seen, blank=blank)


def _entries(api: str | None) -> dict[str, Any] | None:
    names = sorted(gateway().entries(api)) if api else []
    return {"type": "string", "enum": names} if names else None


def describe_server_rules(result, generator, request, public):
    """Postprocessing hook: see the module's docstring."""
    components = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for mounted, operations in result.get("paths", {}).items():
        entries = _entries(api_of(mounted))
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["name"] in ENTRY_NAMES and entries:
                    parameter["schema"] = dict(entries)
                    continue
                text_rule(schema, blank=parameter["in"] != "query" or not schema.get("minLength"))
            for body in operation.get("requestBody", {}).get("content", {}).values():
                schema = body.get("schema", {})
                _request_schema(schema, components, seen)
                ref = schema.get("$ref", "")
                component = components.get(ref.rsplit("/", 1)[-1]) if ref else None
                properties = (component or {}).get("properties", {})
                if entries and "custom_llm_provider" in properties:
                    properties["custom_llm_provider"] = dict(entries)
                if route(mounted) == "/v1/uploads" and "bytes" in properties:
                    properties["bytes"]["maximum"] = gateway().max_upload_total_bytes
    return result
