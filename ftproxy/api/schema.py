"""OpenAPI schema details for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema

from .base import GatewayView
from .shapes import ErrorResponse


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "ftproxy.api.authentication.BearerKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Master key or an API key."}


def operation(**kwargs):
    """``extend_schema`` for a gateway view's method, on drf-spectacular's
    ``AutoSchema`` whatever the host's ``DEFAULT_SCHEMA_CLASS`` says."""

    def decorate(method):
        method.schema = AutoSchema
        return extend_schema(**kwargs)(method)

    return decorate


def only_v1_paths(endpoints, **kwargs):
    """Preprocessing hook: the gateway's routes only (not the host's), and
    the un-prefixed routes are aliases: document /v1 once."""
    return [
        (path, regex, method, view)
        for path, regex, method, view in endpoints
        if "/v1/" in path and issubclass(getattr(view, "cls", object), GatewayView)
    ]


def route(path: str) -> str:
    """The route of a documented path, whatever prefix the host mounts it under."""
    return path[path.find("/v1/") :]


#: What any API route may answer besides its success.
ERROR_STATUSES = (400, 401, 404, 408, 429, 500, 502, 503, 504)
#: What a POST may answer besides those: an idempotent request still in
#: flight (409), a body without a length (411), too large (413), not JSON
#: (415), a full disk (507).
POST_STATUSES = (409, 411, 413, 415, 507)


def answers(ok, *, post: bool = False, master_only: bool = False) -> dict:
    """``responses=`` for extend_schema: the success shape and the error
    envelope (and 403 on the routes of the master key only)."""
    statuses = ERROR_STATUSES + (POST_STATUSES if post else ()) + ((403,) if master_only else ())
    return {200: ok, **dict.fromkeys(statuses, ErrorResponse)}


def _header(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "schema": schema or {"type": "string"}}


#: Routes that name no provider entry (no ``custom-llm-provider`` header).
NO_ENTRY_ROUTES = ("/v1/keys",)
#: Request bodies each create really takes.
REQUEST_TYPES = {
    ("/v1/files", "post"): "multipart/form-data",
    ("/v1/fine_tuning/jobs", "post"): "application/json",
    ("/v1/uploads", "post"): "application/json",
    ("/v1/uploads/{upload_id}/parts", "post"): "multipart/form-data",
    ("/v1/uploads/{upload_id}/complete", "post"): "application/json",
    ("/v1/webhooks/{entry}", "post"): "application/json",
    ("/v1/keys", "post"): "application/json",
    ("/v1/keys/{key_id}", "post"): "application/json",
    ("/v1/keys/{key_id}/rotate", "post"): "application/json",
}
#: The POSTs an ``Idempotency-Key`` replays.
IDEMPOTENT_CREATES = {
    ("/v1/files", "post"),
    ("/v1/fine_tuning/jobs", "post"),
    ("/v1/uploads", "post"),
    ("/v1/uploads/{upload_id}/complete", "post"),
}


def document_headers(result, generator, request, public):
    """Postprocessing hook: the headers every route uses (request:
    ``custom-llm-provider``, ``Idempotency-Key`` on creates; response:
    ``x-request-id`` always, ``Idempotent-Replayed``, ``Retry-After``,
    ``x-should-retry``, ``WWW-Authenticate``), and only the body types the
    creates take."""
    for mounted, operations in result.get("paths", {}).items():
        path = route(mounted)
        for method, operation in operations.items():
            if method not in ("get", "post", "delete"):
                continue
            parameters = operation.setdefault("parameters", [])
            if not path.startswith(NO_ENTRY_ROUTES):
                parameters.append(
                    {
                        "in": "header",
                        "name": "custom-llm-provider",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "The configured provider entry (as custom_llm_provider).",
                    }
                )
            if (path, method) in IDEMPOTENT_CREATES:
                parameters.append(
                    {
                        "in": "header",
                        "name": "Idempotency-Key",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "Replays the first answer for 24 hours.",
                    }
                )
            body = operation.get("requestBody", {}).get("content")
            if body and (path, method) in REQUEST_TYPES:
                kept = REQUEST_TYPES[(path, method)]
                operation["requestBody"]["content"] = {kept: body[kept]}
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers["x-request-id"] = _header("The request's id (logs, audit, errors).")
                if status == "200" and (path, method) in IDEMPOTENT_CREATES:
                    headers["Idempotent-Replayed"] = _header("true on a replayed answer.")
                if status == "429":
                    headers["Retry-After"] = _header("Seconds, as the provider said.")
                if status.startswith("5") and method == "post":
                    headers["x-should-retry"] = _header(
                        "false when the request may have reached the provider."
                    )
                if status == "401":
                    headers["WWW-Authenticate"] = _header("Bearer realm.")
    return result
