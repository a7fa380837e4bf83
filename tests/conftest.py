"""Shared fixtures: a per-test sandbox config, API keys and an API client."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import override_settings

from ftproxy.config import load_config

MASTER_KEY = "sk-test-master"


def write_config(directory: Path, data: dict[str, Any], name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def gateway_config(tmp_path, monkeypatch) -> Callable[..., dict[str, Any]]:
    """Apply a config (a dict in the YAML's shape) for the rest of the test;
    returns the loaded FTPROXY setting."""
    monkeypatch.setenv("FTPROXY_MASTER_KEY", MASTER_KEY)
    overrides = []

    def apply(data: dict[str, Any]) -> dict[str, Any]:
        data = {"general_settings": {"master_key": "os.environ/FTPROXY_MASTER_KEY"}, **data}
        loaded = load_config(write_config(tmp_path, data, f"config-{len(overrides)}.yaml"))
        override = override_settings(FTPROXY=loaded)
        override.enable()
        overrides.append(override)
        return loaded

    yield apply
    for override in reversed(overrides):
        override.disable()


@pytest.fixture
def sandbox_entry(tmp_path) -> dict[str, Any]:
    return {
        "custom_llm_provider": "sandbox",
        "storage_dir": str(tmp_path / "sandbox"),
        "validate_seconds": 0,
        "queue_seconds": 0,
        "run_seconds": 3600,
    }


@pytest.fixture
def sandbox(gateway_config, sandbox_entry) -> dict[str, Any]:
    """The sandbox provider for files and fine-tuning, storing under tmp_path."""
    return gateway_config(
        {"finetune_settings": [sandbox_entry], "files_settings": [dict(sandbox_entry)]}
    )


@pytest.fixture
def make_key(db) -> Callable[[str], str]:
    from ftproxy.models import ApiKey

    def make(name: str = "user") -> str:
        return ApiKey.create_key(name)[1]

    return make


class Api:
    """A Django test client speaking as one key."""

    def __init__(self, client, key: str | None):
        self.client = client
        self.key = key

    def request_headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if self.key is not None:
            result.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.key}")
        return result

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(path, params or {}, **self.request_headers(headers))

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(path, **self.request_headers(headers))

    def post_json(self, path: str, body: Any = None, headers: dict | None = None):
        return self.client.post(
            path,
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            **self.request_headers(headers),
        )

    def upload(
        self,
        content: bytes,
        *,
        purpose: str = "fine-tune",
        filename: str = "train.jsonl",
        extra: dict | None = None,
        headers: dict | None = None,
    ):
        handle = io.BytesIO(content)
        handle.name = filename
        data = {"file": handle, "purpose": purpose, **(extra or {})}
        return self.client.post("/v1/files", data, **self.request_headers(headers))


@pytest.fixture
def api_as(client) -> Callable[[str | None], Api]:
    return lambda key: Api(client, key)


@pytest.fixture
def master(api_as, db) -> Api:
    return api_as(MASTER_KEY)


def chat_line(user: str = "Hello", assistant: str = "Hi there") -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }


def jsonl(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


TRAINING = jsonl(*(chat_line(f"q{i}", f"a{i}") for i in range(10)))


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    """Each test starts with this process's API-key cache empty."""
    from ftproxy.services.ledger.keys import forget_key

    forget_key()
    yield
    forget_key()
