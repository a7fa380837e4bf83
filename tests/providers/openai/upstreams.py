"""The OpenAI-shaped upstreams (OpenAI, Azure with a dated api-version,
Azure v1) and their answers, shared by the OpenAI tests and the contract."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import responses
from requests_toolbelt import MultipartDecoder
from responses import matchers

from ftproxy.providers.data import FileUpload
from ftproxy.providers.openai import AzureProvider, OpenAIProvider

# --------------------------------------------------------------------------
# The three upstreams
# --------------------------------------------------------------------------


@dataclass
class Upstream:
    """One upstream flavour: how to build the provider, and what its
    requests must look like."""

    id: str
    cls: type
    entry: dict[str, Any]
    base: str
    query: dict[str, str]
    headers: dict[str, str]
    #: Headers that must not be sent (the other provider's credentials).
    absent: tuple[str, ...]
    #: Pause/resume, method, integrations, metadata, expires_after.
    full_api: bool
    azure: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def provider(self, **overrides: Any):
        return self.cls({**self.entry, **overrides})

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


OPENAI = Upstream(
    id="openai",
    cls=OpenAIProvider,
    entry={
        "custom_llm_provider": "openai",
        "name": "openai",
        "api_key": "sk-openai-secret",
        "api_base": "https://api.openai.test/v1",
        "organization": "org-123",
        "project": "proj-456",
        "max_retries": 2,
    },
    base="https://api.openai.test/v1",
    query={},
    headers={
        "Authorization": "Bearer sk-openai-secret",
        "OpenAI-Organization": "org-123",
        "OpenAI-Project": "proj-456",
    },
    absent=("api-key",),
    full_api=True,
)
AZURE_DATED = Upstream(
    id="azure-dated",
    cls=AzureProvider,
    entry={
        "custom_llm_provider": "azure",
        "name": "azure",
        "api_key": "azure-secret",
        "api_base": "https://my-res.openai.azure.com",
        "max_retries": 2,
    },
    base="https://my-res.openai.azure.com/openai",
    query={"api-version": "2024-10-21"},
    headers={"api-key": "azure-secret"},
    absent=("Authorization", "OpenAI-Organization", "OpenAI-Project"),
    full_api=False,
    azure=True,
)
AZURE_V1 = Upstream(
    id="azure-v1",
    cls=AzureProvider,
    entry={**AZURE_DATED.entry, "name": "azure-v1", "api_version": "v1"},
    base="https://my-res.openai.azure.com/openai/v1",
    query={},
    headers={"api-key": "azure-secret"},
    absent=("Authorization", "OpenAI-Organization", "OpenAI-Project"),
    full_api=True,
    azure=True,
)
UPSTREAMS = [OPENAI, AZURE_DATED, AZURE_V1]


def expect(
    rsps: responses.RequestsMock,
    up: Upstream,
    method: str,
    path: str,
    *,
    body: Any = None,
    status: int = 200,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
):
    """Register the one answer the upstream gives to exactly this request
    (method, URL and the full query string)."""
    match = [matchers.query_param_matcher({**up.query, **(query or {})}, strict_match=True)]
    if json_body is not None:
        match.append(matchers.json_params_matcher(json_body, strict_match=True))
    return rsps.add(
        method,
        up.url(path),
        json=body,
        status=status,
        headers=headers,
        match=match,
    )


def assert_auth_headers(request, up: Upstream) -> None:
    for name, value in up.headers.items():
        assert request.headers.get(name) == value, name
    for name in up.absent:
        assert name not in request.headers, f"{name} leaked to {up.id}"


def read_body(request) -> bytes:
    """The request body, joined if it was streamed as chunks."""
    body = request.body
    if body is None or isinstance(body, bytes):
        return body or b""
    if isinstance(body, str):
        return body.encode()
    return b"".join(body)


def parse_multipart(request) -> dict[str, tuple[str | None, str | None, bytes]]:
    """name → (filename, content type, content) for each form part."""
    parts = {}
    for part in MultipartDecoder(read_body(request), request.headers["Content-Type"]).parts:
        disposition = part.headers[b"Content-Disposition"].decode()
        params = dict(
            item.strip().split("=", 1) for item in disposition.split(";")[1:] if "=" in item
        )
        name = params["name"].strip('"')
        filename = params.get("filename", "").strip('"') or None
        ctype = part.headers.get(b"Content-Type")
        parts[name] = (filename, ctype.decode() if ctype else None, part.content)
    return parts


def file_json(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "file-abc123",
        "object": "file",
        "bytes": 27,
        "created_at": 1700000000,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
        **overrides,
    }


def job_json(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-abc123",
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini-2024-07-18",
        "created_at": 1700000100,
        "finished_at": None,
        "fine_tuned_model": None,
        "organization_id": "org-123",
        "result_files": [],
        "status": "validating_files",
        "validation_file": None,
        "training_file": "file-abc123",
        "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2},
        "trained_tokens": None,
        "error": None,
        "seed": 42,
        **overrides,
    }


TRAINING = b'{"messages":[{"role":"user","content":"hi"}]}\n'


def upload(**overrides: Any) -> FileUpload:
    values = {
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "stream": io.BytesIO(TRAINING),
        "size": len(TRAINING),
        "content_type": "application/jsonl",
        **overrides,
    }
    return FileUpload(**values)


def error_body(up: Upstream, message: str, *, param: str | None = None, code: str | None = None):
    if up.azure and not up.full_api:
        # Azure's dated shape: Microsoft REST guidelines, "target" for the field.
        return {"error": {"code": code, "message": message, "target": param}}
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if not up.azure else "error",
            "param": param,
            "code": code,
        }
    }
