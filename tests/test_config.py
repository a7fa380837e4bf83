"""Specification of the YAML config loader (LiteLLM's format). No database needed."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from ftproxy.config import load_config
from ftproxy.errors import ConfigError

SECRET = "sk-live-do-not-echo-4f9a2b"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ftproxy.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> dict[str, Any]:
    return load_config(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), "every error names the file"
    return message


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FTPROXY_TEST_MISSING", "OPENAI_API_KEY", "AZURE_API_KEY", "UNSET_IN_MODEL_LIST"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------------
# os.environ/ references
# ---------------------------------------------------------------------------


def test_environment_references_are_resolved_at_any_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_MASTER", "sk-master")
    monkeypatch.setenv("FT_OPENAI", "sk-openai")
    monkeypatch.setenv("FT_PRICE", "25")
    monkeypatch.setenv("FT_UPLOAD", "64")
    config = load(
        tmp_path,
        """
        general_settings:
          master_key: os.environ/FT_MASTER
        finetune_settings:
          - custom_llm_provider: openai
            api_key: os.environ/FT_OPENAI
        ftproxy_settings:
          max_upload_mb: os.environ/FT_UPLOAD
          fine_tuning_pricing:
            gpt-4o-mini: os.environ/FT_PRICE
        """,
    )
    assert config["master_key"] == "sk-master"
    assert config["finetune_settings"][0]["api_key"] == "sk-openai"
    assert config["max_upload_mb"] == 64
    assert config["fine_tuning_pricing"] == {"gpt-4o-mini": "25"}


def test_environment_reference_only_counts_at_the_start_of_a_value(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: key-os.environ/NOT_A_REFERENCE
        """,
    )
    assert config["finetune_settings"][0]["api_key"] == "key-os.environ/NOT_A_REFERENCE"


def test_missing_environment_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: os.environ/FTPROXY_TEST_MISSING
        """,
    )
    assert "FTPROXY_TEST_MISSING" in message
    assert "finetune_settings[0] (openai).api_key" in message


def test_missing_environment_variable_in_nested_setting_names_its_path(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        ftproxy_settings:
          fine_tuning_pricing:
            gpt-4o: os.environ/FTPROXY_TEST_MISSING
        """,
    )
    assert "ftproxy_settings.fine_tuning_pricing.gpt-4o" in message
    assert "FTPROXY_TEST_MISSING is not set" in message


def test_missing_master_key_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    message = error_of(
        tmp_path, "general_settings:\n  master_key: os.environ/FTPROXY_TEST_MISSING\n"
    )
    assert "general_settings.master_key" in message
    assert "FTPROXY_TEST_MISSING" in message


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


def test_unknown_key_names_the_file_entry_and_key(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: sk-1
          - custom_llm_provider: azure
            api_base: https://example.openai.azure.com
            api_key: sk-2
            api_verison: "2024-10-21"
        """,
    )
    assert "finetune_settings[1] (azure)" in message
    assert "unknown key 'api_verison'" in message


def test_unknown_key_in_named_entry_uses_the_name(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        files_settings:
          - custom_llm_provider: openai
            name: openai-eu
            api_key: sk-1
            bucket: x
        """,
    )
    assert "files_settings[0] (openai-eu)" in message
    assert "'bucket'" in message


def test_entry_without_custom_llm_provider_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "finetune_settings:\n  - api_key: sk-1\n")
    assert "finetune_settings[0]" in message
    assert "'custom_llm_provider' is required" in message


def test_unsupported_provider_is_an_error_listing_the_supported_ones(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        files_settings:
          - custom_llm_provider: openai
            api_key: sk-1
          - custom_llm_provider: cohere
        """,
    )
    assert "files_settings[1]" in message
    assert "'cohere' is not supported" in message
    assert (
        "azure, bedrock, bedrock_openai, fireworks, openai, sandbox, together, vertex_ai" in message
    )


def test_entry_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "finetune_settings:\n  - openai\n")
    assert "finetune_settings[0]: each entry must be a mapping" in message


def test_section_that_is_not_a_list_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "files_settings:\n  custom_llm_provider: openai\n")
    assert "files_settings must be a list" in message


@pytest.mark.parametrize(
    ("entry", "label", "key"),
    [
        ("custom_llm_provider: azure\n    api_key: sk-1", "(azure)", "api_base"),
        ("custom_llm_provider: openai\n    api_key: ''", "(openai)", "api_key"),
        ("custom_llm_provider: vertex_ai\n    vertex_project: p", "(vertex_ai)", "vertex_location"),
    ],
)
def test_missing_required_option_is_an_error_naming_it(
    tmp_path: Path, entry: str, label: str, key: str
) -> None:
    message = error_of(tmp_path, f"finetune_settings:\n  - {entry}\n")
    assert f"finetune_settings[0] {label}" in message
    assert f"key {key!r} is required" in message


def test_required_option_from_an_empty_environment_variable_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_EMPTY", "")
    message = error_of(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: os.environ/FT_EMPTY
        """,
    )
    assert "key 'api_key' is required for openai" in message


def test_two_entries_of_one_provider_without_names_are_an_error(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: sk-1
          - custom_llm_provider: openai
            api_key: sk-2
        """,
    )
    assert "finetune_settings[1]" in message
    assert "two entries are named 'openai'" in message


def test_duplicate_explicit_names_are_an_error(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        files_settings:
          - custom_llm_provider: openai
            name: shared
            api_key: sk-1
          - custom_llm_provider: sandbox
            name: shared
        """,
    )
    assert "two entries are named 'shared'" in message


def test_distinct_names_let_one_provider_be_configured_twice(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: sk-1
          - custom_llm_provider: openai
            name: openai-eu
            api_key: sk-2
            api_base: https://eu.api.openai.com/v1
        files_settings:
          - custom_llm_provider: openai
            api_key: sk-1
        """,
    )
    assert [e["name"] for e in config["finetune_settings"]] == ["openai", "openai-eu"]
    assert [e["api"] for e in config["finetune_settings"]] == ["finetune_settings"] * 2
    assert config["files_settings"][0]["name"] == "openai"


@pytest.mark.parametrize("name", ["team/openai", "42"])
def test_name_must_be_a_string_without_slash(tmp_path: Path, name: str) -> None:
    message = error_of(
        tmp_path,
        f"""
        finetune_settings:
          - custom_llm_provider: openai
            name: {name}
            api_key: sk-1
        """,
    )
    assert "key 'name' must be a string without '/'" in message


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("timeout", "soon", "must be a number"),
        ("timeout", "0", "must be at least 0.001"),
        ("timeout", "-5", "must be at least 0.001"),
        ("timeout", ".nan", "must be a number"),
        ("timeout", "true", "must be a number, not True"),
        ("max_retries", "-1", "must be at least 0"),
        ("max_retries", "2.5", "must be a whole number"),
        ("max_retries", "many", "must be a whole number"),
        ("max_retries", ".inf", "must be a whole number"),
        ("max_retries", "[1]", "must be a whole number"),
    ],
)
def test_bad_timeout_or_max_retries_is_an_error(
    tmp_path: Path, key: str, value: str, reason: str
) -> None:
    message = error_of(
        tmp_path,
        f"""
        finetune_settings:
          - custom_llm_provider: openai
            api_key: sk-1
            {key}: {value}
        """,
    )
    assert f"finetune_settings[0] (openai).{key}: {reason}" in message


def test_timeout_and_max_retries_accept_numeric_strings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_TIMEOUT", "12.5")
    monkeypatch.setenv("FT_RETRIES", "3")
    entry = load(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: sk-1
            timeout: os.environ/FT_TIMEOUT
            max_retries: os.environ/FT_RETRIES
        """,
    )["finetune_settings"][0]
    assert entry["timeout"] == 12.5
    assert entry["max_retries"] == 3
    assert isinstance(entry["max_retries"], int)


# ---------------------------------------------------------------------------
# Top level and ftproxy_settings
# ---------------------------------------------------------------------------


def test_ftproxy_settings_defaults_apply_when_absent(tmp_path: Path) -> None:
    config = load(tmp_path, "finetune_settings: []\n")
    assert config["max_upload_mb"] == 512
    assert config["sync_interval_seconds"] == 60
    assert config["fine_tuning_pricing"] == {}
    assert config["finetune_settings"] == []
    assert config["files_settings"] == []
    assert config["master_key"] is None


def test_unknown_ftproxy_settings_key_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "ftproxy_settings:\n  max_upload_megabytes: 10\n")
    assert "ftproxy_settings: unknown key 'max_upload_megabytes'" in message


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("max_upload_mb: 0", "ftproxy_settings.max_upload_mb: must be at least"),
        (
            "sync_interval_seconds: 0.5",
            "ftproxy_settings.sync_interval_seconds: must be at least 1",
        ),
        ("fine_tuning_pricing: [1, 2]", "ftproxy_settings.fine_tuning_pricing must be a mapping"),
        ("fine_tuning_pricing: {gpt-4o: free}", "fine_tuning_pricing.gpt-4o: must be a number"),
    ],
)
def test_bad_ftproxy_settings_value_is_an_error(
    tmp_path: Path, setting: str, fragment: str
) -> None:
    assert fragment in error_of(tmp_path, f"ftproxy_settings:\n  {setting}\n")


def test_bad_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        """
        finetune_settings:
          - custom_llm_provider: openai
            api_key: [unclosed
        """,
    )
    assert "not valid YAML" in message
    assert "line " in message


@pytest.mark.parametrize("text", ["- finetune_settings\n", "just a string\n", "42\n"])
def test_top_level_that_is_not_a_mapping_is_an_error(tmp_path: Path, text: str) -> None:
    assert "the top level must be a mapping" in error_of(tmp_path, text)


def test_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    assert "unknown top-level key 'finetune_setings'" in error_of(
        tmp_path, "finetune_setings: []\n"
    )


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read the config file") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_litellm_only_sections_are_ignored_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ftproxy.config")
    config = load(
        tmp_path,
        """
        model_list:
          - model_name: gpt-4o
            litellm_params:
              model: openai/gpt-4o
              api_key: os.environ/UNSET_IN_MODEL_LIST
        litellm_settings:
          drop_params: true
        router_settings:
          routing_strategy: simple-shuffle
        files_settings:
          - custom_llm_provider: sandbox
        """,
    )
    assert config["files_settings"][0]["name"] == "sandbox"
    records = [r for r in caplog.records if r.name == "ftproxy.config"]
    assert len(records) == 1, [r.getMessage() for r in records]
    line = records[0].getMessage()
    for section in ("model_list", "litellm_settings", "router_settings"):
        assert section in line
    assert "UNSET_IN_MODEL_LIST" not in line


def test_config_without_litellm_sections_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ftproxy.config")
    load(tmp_path, "files_settings:\n  - custom_llm_provider: sandbox\n")
    assert [r for r in caplog.records if r.name == "ftproxy.config"] == []


# ---------------------------------------------------------------------------
# Known-good configs
# ---------------------------------------------------------------------------

#: The example of LiteLLM's /fine_tuning documentation page (in LiteLLM's own repository).
LITELLM_DOCS_EXAMPLE = """
model_list:
  - model_name: gpt-4
    litellm_params:
      model: openai/fake
      api_key: fake-key
      api_base: https://exampleopenaiendpoint-production.up.railway.app/

# For /fine_tuning/jobs endpoints
finetune_settings:
  - custom_llm_provider: azure
    api_base: https://exampleopenaiendpoint-production.up.railway.app
    api_key: os.environ/AZURE_API_KEY
    api_version: "2023-03-15-preview"
  - custom_llm_provider: openai
    api_key: os.environ/OPENAI_API_KEY
  - custom_llm_provider: "vertex_ai"
    vertex_project: "adroit-crow-413218"
    vertex_location: "us-central1"
    vertex_credentials: "/Users/ishaanjaffer/Downloads/adroit-crow-413218-a956eef1a2a8.json"

# for /files endpoints
files_settings:
  - custom_llm_provider: azure
    api_base: https://exampleopenaiendpoint-production.up.railway.app
    api_key: fake-key
    api_version: "2023-03-15-preview"
  - custom_llm_provider: openai
    api_key: os.environ/OPENAI_API_KEY
"""


def fake_key_file(tmp_path: Path) -> str:
    """A stand-in service-account key: the loader checks that the file exists and parses."""
    path = tmp_path / "sa.json"
    path.write_text('{"type": "service_account", "project_id": "p"}', encoding="utf-8")
    return str(path)


def test_litellm_documentation_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_API_KEY", "azure-key")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    # Only the key file's path changes: the docs point at a file on the author's machine.
    text = LITELLM_DOCS_EXAMPLE.replace(
        "/Users/ishaanjaffer/Downloads/adroit-crow-413218-a956eef1a2a8.json",
        fake_key_file(tmp_path),
    )
    assert text != LITELLM_DOCS_EXAMPLE
    config = load_config(write(tmp_path, text))
    fine_tune = {e["name"]: e for e in config["finetune_settings"]}
    files = {e["name"]: e for e in config["files_settings"]}
    assert list(fine_tune) == ["azure", "openai", "vertex_ai"]
    assert list(files) == ["azure", "openai"]
    assert fine_tune["azure"]["api_key"] == "azure-key"
    assert fine_tune["azure"]["api_version"] == "2023-03-15-preview"
    assert fine_tune["openai"]["api_key"] == "openai-key"
    assert fine_tune["vertex_ai"]["vertex_location"] == "us-central1"
    assert files["azure"]["api_key"] == "fake-key"
    assert config["master_key"] is None


def test_litellm_documentation_example_needs_its_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    assert "AZURE_API_KEY is not set" in error_of(tmp_path, LITELLM_DOCS_EXAMPLE)


def test_design_document_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTPROXY_MASTER_KEY", "sk-admin")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    monkeypatch.setenv("AZURE_API_KEY", "azure-key")
    monkeypatch.setenv("FT_SA_PATH", fake_key_file(tmp_path))
    config = load(
        tmp_path,
        """
        general_settings:
          master_key: os.environ/FTPROXY_MASTER_KEY
        finetune_settings:
          - custom_llm_provider: openai
            api_key: os.environ/OPENAI_API_KEY
            api_base: https://api.openai.com/v1
          - custom_llm_provider: azure
            api_base: https://my-resource.openai.azure.com
            api_key: os.environ/AZURE_API_KEY
            api_version: "2024-10-21"
          - custom_llm_provider: vertex_ai
            vertex_project: my-project
            vertex_location: us-central1
            vertex_credentials: os.environ/FT_SA_PATH  # /secrets/sa.json in the design
            api_base: https://us-central1-aiplatform.googleapis.com
        files_settings:
          - custom_llm_provider: openai
            api_key: os.environ/OPENAI_API_KEY
          - custom_llm_provider: vertex_ai
            vertex_project: my-project
            vertex_location: us-central1
            vertex_credentials: os.environ/FT_SA_PATH  # /secrets/sa.json in the design
            gcs_bucket_name: my-tuning-data
            gcs_api_base: https://storage.googleapis.com
        """,
    )
    assert config["master_key"] == "sk-admin"
    assert [e["name"] for e in config["finetune_settings"]] == ["openai", "azure", "vertex_ai"]
    assert config["files_settings"][1]["gcs_bucket_name"] == "my-tuning-data"


# ---------------------------------------------------------------------------
# Secrets are never echoed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provocation",
    [
        {"timeout": "os.environ/FT_SECRET"},  # the secret itself is the bad value
        {"max_retries": "os.environ/FT_SECRET"},
        {"timeout": -1},
        {"api_kye": "os.environ/FT_SECRET"},
        {"name": "has/slash"},
        {"custom_llm_provider": "azure"},  # azure then lacks api_base
        {"api_base": "os.environ/FTPROXY_TEST_MISSING"},
    ],
)
def test_error_messages_never_contain_a_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provocation: dict[str, Any]
) -> None:
    monkeypatch.setenv("FT_SECRET", SECRET)
    entry = {"custom_llm_provider": "openai", "api_key": "os.environ/FT_SECRET", **provocation}
    message = error_of(tmp_path, yaml.safe_dump({"finetune_settings": [entry]}))
    assert "finetune_settings[0]" in message
    assert SECRET not in message


def test_vertex_credentials_that_are_neither_json_nor_a_file_are_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = "eyJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCJ9c2VjcmV0LWtleS1tYXRlcmlhbA=="
    monkeypatch.setenv("FT_VERTEX_KEY", encoded)
    entry = {
        "custom_llm_provider": "vertex_ai",
        "vertex_project": "p",
        "vertex_location": "us-central1",
        "vertex_credentials": "os.environ/FT_VERTEX_KEY",
    }
    message = error_of(tmp_path, yaml.safe_dump({"finetune_settings": [entry]}))
    assert "vertex_credentials" in message
    assert encoded not in message


def test_master_key_error_does_not_echo_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_SECRET", SECRET)
    message = error_of(
        tmp_path,
        """
        general_settings:
          master_key: [os.environ/FT_SECRET]
        """,
    )
    assert "general_settings.master_key" in message
    assert SECRET not in message


def test_bad_yaml_error_does_not_quote_a_literal_secret(tmp_path: Path) -> None:
    message = error_of(
        tmp_path,
        f"""
        finetune_settings:
          - custom_llm_provider: openai
            api_key: {SECRET}: oops
        """,
    )
    assert "not valid YAML at line 4" in message
    assert SECRET not in message


def test_debug_reports_hide_vertex_credentials(tmp_path: Path) -> None:
    from django.views.debug import get_default_exception_reporter_filter

    private_key = "-----BEGIN PRIVATE KEY-----\\nMIIsecret\\n-----END PRIVATE KEY-----\\n"
    entry = {"custom_llm_provider": "sandbox", "storage_dir": str(tmp_path)}
    loaded = {"finetune_settings": [entry], "vertex": {"vertex_credentials": private_key}}
    cleansed = get_default_exception_reporter_filter().cleanse_setting("FTPROXY", loaded)
    assert "MIIsecret" not in repr(cleansed)


def test_debug_reports_hide_credentials_in_local_variables() -> None:
    import sys

    from django.views.debug import get_default_exception_reporter_filter

    def provider_code():
        entry = {"custom_llm_provider": "vertex_ai", "vertex_credentials": "PRIVATE-PEM"}
        api_key = "sk-upstream-secret-value"
        raise RuntimeError(f"{len(entry)} {len(api_key)}")

    try:
        provider_code()
    except RuntimeError:
        frame = sys.exc_info()[2].tb_next.tb_frame
    shown = get_default_exception_reporter_filter().get_traceback_frame_variables(None, frame)
    text = repr(shown)
    assert "PRIVATE-PEM" not in text and "sk-upstream-secret-value" not in text
    assert "vertex_ai" in text  # the rest is still there to debug with


def test_model_shutdowns_take_dates_or_null(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        ftproxy_settings:
          model_shutdowns:
            gpt-4o-mini: 2027-01-14
            my-model: "2028-02-01"
            gpt-4.1: null
        """,
    )
    assert config["model_shutdowns"] == {
        "gpt-4o-mini": "2027-01-14",
        "my-model": "2028-02-01",
        "gpt-4.1": None,
    }


def test_a_model_shutdown_that_is_no_date_is_an_error_naming_it(tmp_path: Path) -> None:
    message = error_of(tmp_path, "ftproxy_settings:\n  model_shutdowns:\n    gpt-4o: soon\n")
    assert "ftproxy_settings.model_shutdowns.gpt-4o" in message and "YYYY-MM-DD" in message
