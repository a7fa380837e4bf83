"""The provider × feature table of the docs is generated from the provider
classes at docs build time; these tests keep it wired and truthful."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from ftproxy.providers import DEFAULT_PROVIDER_CLASSES, classes_by_kind
from ftproxy.providers.base import Provider
from ftproxy.providers.features import COLUMNS, PLACEHOLDER, feature_row, feature_table

ROOT = Path(__file__).resolve().parent.parent


def rows() -> dict[str, dict[str, str]]:
    classes = classes_by_kind(DEFAULT_PROVIDER_CLASSES)
    return {
        kind: dict(zip(COLUMNS, feature_row(cls), strict=True)) for kind, cls in classes.items()
    }


def test_every_built_in_class_has_a_row_in_the_table():
    table = feature_table(classes_by_kind(DEFAULT_PROVIDER_CLASSES).values())
    lines = table.splitlines()
    assert len(lines) == 2 + len(DEFAULT_PROVIDER_CLASSES)
    for kind in classes_by_kind(DEFAULT_PROVIDER_CLASSES):
        assert f"| `{kind}` |" in table


def test_the_rows_say_what_the_classes_declare():
    found = rows()
    assert found["together"]["LoRA / full"] == "LoRA / full"
    assert found["together"]["methods"] == "supervised, dpo"
    assert found["fireworks"]["methods"] == "supervised, dpo"
    assert found["fireworks"]["events"] == "the gateway's status history"
    assert found["fireworks"]["checkpoints"] == "no"
    assert found["openai"]["webhooks in"] == "yes"
    assert found["openai"]["Uploads API"] == "forwarded"
    assert "`lora_r`" in found["together"]["its own hyperparameters"]


def test_a_new_class_gets_its_row_from_its_declarations():
    class Echo(Provider):
        kind = "echo"
        training_methods = frozenset({"supervised", "reinforcement"})
        tuning_modes = frozenset({"full"})
        can_pause = True
        lists_events = False
        extra_hyperparameters = frozenset({"temperature"})

    row = dict(zip(COLUMNS, feature_row(Echo), strict=True))
    assert row["methods"] == "supervised, reinforcement"
    assert (row["LoRA / full"], row["pause"]) == ("full", "yes")
    assert row["events"] == "the gateway's status history"
    assert row["its own hyperparameters"] == "`temperature`"


def test_the_docs_build_puts_the_table_in_the_providers_page():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    [hook_path] = [h for h in config["hooks"] if h.endswith("provider_features.py")]
    page = (ROOT / "docs" / "providers" / "index.md").read_text(encoding="utf-8")
    assert PLACEHOLDER in page
    spec = importlib.util.spec_from_file_location("provider_features_hook", ROOT / hook_path)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    built = hook.on_page_markdown(page, page=None, config=None, files=None)
    assert PLACEHOLDER not in built
    assert feature_table(classes_by_kind(DEFAULT_PROVIDER_CLASSES).values()) in built
