"""The provider classes are a setting of import strings: a host adds one by
naming its class in ``FTPROXY["PROVIDER_CLASSES"]``; the gateway asks the
classes what they can do instead of comparing kind names."""

from __future__ import annotations

import pytest
import yaml
from django.test import override_settings

from ftproxy.conf import FINE_TUNING, gateway, provider_class, provider_classes
from ftproxy.config import load_config
from ftproxy.errors import ConfigError
from ftproxy.models import File
from ftproxy.providers import DEFAULT_PROVIDER_CLASSES
from ftproxy.providers.sandbox import SandboxProvider
from ftproxy.providers.vertex import VertexProvider
from tests.conftest import MASTER_KEY, TRAINING


class EchoProvider(SandboxProvider):
    """A host's own provider: the sandbox under another kind, taking s3:// files."""

    kind = "echo"
    options = SandboxProvider.options | {"region"}
    file_uri_prefixes = ("s3://",)


ECHO = f"{__name__}.EchoProvider"


def test_the_built_in_classes_are_the_default():
    assert sorted(provider_classes()) == [
        "azure",
        "bedrock",
        "bedrock_openai",
        "fireworks",
        "openai",
        "sandbox",
        "together",
        "vertex_ai",
    ]
    assert provider_class("vertex_ai") is VertexProvider and provider_class("echo") is None


def test_a_host_adds_a_provider_by_naming_its_class(tmp_path):
    entry = {"custom_llm_provider": "echo", "name": "mine", "storage_dir": str(tmp_path)}
    with override_settings(
        FTPROXY={
            "PROVIDER_CLASSES": [*DEFAULT_PROVIDER_CLASSES, ECHO],
            "finetune_settings": [entry],
        }
    ):
        assert provider_class("echo") is EchoProvider
        built = gateway().provider(FINE_TUNING, "mine")
        assert isinstance(built, EchoProvider) and built.name == "mine"
    assert provider_class("echo") is None  # read at call time: gone with the setting


def test_the_yaml_loader_takes_the_classes_and_keeps_them(tmp_path):
    path = tmp_path / "ftproxy.yaml"
    entry = {"custom_llm_provider": "echo", "region": "eu", "storage_dir": str(tmp_path)}
    path.write_text(yaml.safe_dump({"finetune_settings": [entry]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="custom_llm_provider 'echo' is not supported"):
        load_config(path)
    loaded = load_config(path, provider_classes=[*DEFAULT_PROVIDER_CLASSES, ECHO])
    assert loaded["PROVIDER_CLASSES"][-1] == ECHO
    assert loaded["finetune_settings"][0]["name"] == "echo"
    with pytest.raises(ConfigError, match=f"{path}: PROVIDER_CLASSES: 'nowhere.Cls' cannot be"):
        load_config(path, provider_classes=["nowhere.Cls"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("classes", "reference", "message"),
    [
        (DEFAULT_PROVIDER_CLASSES, "gs://b/t.jsonl", "gs:// URIs are only for vertex_ai."),
        ((*DEFAULT_PROVIDER_CLASSES, ECHO), "s3://b/t.jsonl", "s3:// URIs are only for echo."),
    ],
)
def test_a_storage_uri_is_refused_by_an_entry_whose_class_does_not_take_it(
    sandbox, master, classes, reference, message
):
    with override_settings(FTPROXY={**sandbox, "PROVIDER_CLASSES": list(classes)}):
        response = master.post_json(
            "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": reference}
        )
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == "training_file"
    assert error["message"] == f"training_file: {message}"


class NoResultsProvider(SandboxProvider):
    """A host's provider whose result files are not files of its Files API."""

    kind = "no_results"
    result_files_are_files = False


@pytest.mark.django_db
def test_result_files_enter_the_ledger_only_where_they_are_files(master, sandbox_entry):
    classes = [*DEFAULT_PROVIDER_CLASSES, f"{__name__}.NoResultsProvider"]
    entry = {**sandbox_entry, "custom_llm_provider": "no_results", "run_seconds": 0}
    setting = {
        "master_key": MASTER_KEY,
        "PROVIDER_CLASSES": classes,
        "finetune_settings": [entry],
        "files_settings": [dict(entry)],
    }
    with override_settings(FTPROXY=setting):
        training = master.upload(TRAINING).json()["id"]
        job = master.post_json(
            "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": training}
        ).json()
    assert job["status"] == "succeeded" and job["result_files"]
    assert list(File.objects.values_list("public_id", flat=True)) == [training]
