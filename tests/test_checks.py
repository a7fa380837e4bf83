"""System checks of the provider entries: a host that sets ``FTPROXY`` as a
plain dict gets the errors the YAML loader raises, naming entry and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from ftproxy.config import load_config
from ftproxy.errors import ConfigError

OPENAI = {"custom_llm_provider": "openai", "api_key": "sk-up"}
SANDBOX = {"custom_llm_provider": "sandbox"}


def errors_for(ftproxy: Any) -> list[tuple[str, str]]:
    with override_settings(FTPROXY=ftproxy):
        return [
            (message.id, message.msg)
            for message in run_checks()
            if message.id and message.id.startswith("ftproxy.")
        ]


def yaml_error(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "ftproxy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("entries", "check_id", "message"),
    [
        (["sandbox"], "ftproxy.E002", "finetune_settings[0]: each entry must be a mapping"),
        ([{"name": "x"}], "ftproxy.E003", "key 'custom_llm_provider' is required"),
        (
            [{"custom_llm_provider": "cohere"}],
            "ftproxy.E003",
            "custom_llm_provider 'cohere' is not supported (one of: azure, bedrock,",
        ),
        (
            [{**OPENAI, "api_verison": "v1"}],
            "ftproxy.E004",
            "finetune_settings[0] (openai): unknown key 'api_verison' for openai",
        ),
        (
            [{"custom_llm_provider": "openai"}],
            "ftproxy.E005",
            "finetune_settings[0] (openai): key 'api_key' is required for openai",
        ),
        (
            [{**OPENAI, "timeout": "soon"}],
            "ftproxy.E006",
            "finetune_settings[0] (openai).timeout: must be a number",
        ),
        (
            [{**OPENAI, "webhook_secret": "whsec_!!"}],
            "ftproxy.E006",
            "finetune_settings[0] (openai).webhook_secret: 'whsec_' must be followed by base64",
        ),
        (
            [
                {
                    "custom_llm_provider": "vertex_ai",
                    "vertex_project": "p",
                    "vertex_location": "US 1",
                }
            ],
            "ftproxy.E006",
            "key 'vertex_location' must be a region",
        ),
        (
            [SANDBOX, {**SANDBOX, "storage_dir": "/tmp/x"}],
            "ftproxy.E007",
            "finetune_settings[1]: two entries are named 'sandbox'",
        ),
    ],
)
def test_a_dict_config_gets_the_errors_of_the_yaml_path(tmp_path, entries, check_id, message):
    found = errors_for({"finetune_settings": entries})
    assert len(found) == 1 and found[0][0] == check_id and message in found[0][1]
    assert found[0][1] in yaml_error(tmp_path, {"finetune_settings": entries})


def test_a_loaded_yaml_config_passes_the_checks(tmp_path):
    path = tmp_path / "ftproxy.yaml"
    entry = {**OPENAI, "webhook_secret": "whsec_c2VjcmV0", "timeout": "30"}
    path.write_text(yaml.safe_dump({"finetune_settings": [entry], "files_settings": [entry]}))
    assert errors_for(load_config(path)) == []


def test_sections_and_the_setting_must_have_their_shape():
    assert errors_for({"files_settings": {"name": "x"}}) == [
        ("ftproxy.E002", "files_settings must be a list of entries")
    ]
    assert errors_for(["not", "a", "mapping"]) == [
        ("ftproxy.E002", "settings.FTPROXY must be a mapping")
    ]


def test_an_unusable_provider_class_is_reported():
    found = errors_for({"PROVIDER_CLASSES": ["ftproxy.providers.nowhere.Provider"]})
    assert found[0][0] == "ftproxy.E001" and "cannot be imported" in found[0][1]
    found = errors_for({"PROVIDER_CLASSES": ["ftproxy.errors.ConfigError"]})
    assert found == [
        (
            "ftproxy.E001",
            "PROVIDER_CLASSES: 'ftproxy.errors.ConfigError' is not a Provider subclass with a kind",
        )
    ]


def test_manage_py_check_fails_on_a_bad_entry_and_never_shows_the_secret():
    bad = {**OPENAI, "api_key": "sk-secret-4f9a", "colour": "blue"}
    with override_settings(FTPROXY={"files_settings": [bad]}):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
    assert "ftproxy.E004" in str(caught.value) and "'colour'" in str(caught.value)
    assert "sk-secret-4f9a" not in str(caught.value)
