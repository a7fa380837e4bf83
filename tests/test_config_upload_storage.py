"""``ftproxy_settings.upload_storage``: the Django storage of Upload parts,
the ``ftproxy-uploads`` alias of ``STORAGES`` that ``gateway_site`` fills."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ftproxy.config import load_config
from ftproxy.errors import ConfigError
from ftproxy.services.uploads import store as upload_store

ROOT = Path(__file__).resolve().parents[1]
S3 = "storages.backends.s3.S3Storage"


def load(tmp_path: Path, storage) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"ftproxy_settings": {"upload_storage": storage}}))
    return load_config(path)


def test_backend_and_options_are_read_with_environment_references(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTS_SECRET", "s3cr3t")
    config = load(
        tmp_path,
        {"backend": S3, "options": {"bucket_name": "b", "secret_key": "os.environ/PARTS_SECRET"}},
    )
    assert config["upload_storage"] == {
        "backend": S3,
        "options": {"bucket_name": "b", "secret_key": "s3cr3t"},
    }
    assert load(tmp_path, {"backend": S3})["upload_storage"] == {"backend": S3, "options": {}}
    (tmp_path / "none.yaml").write_text("ftproxy_settings: {}\n")
    assert load_config(tmp_path / "none.yaml")["upload_storage"] is None


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"backend": S3, "bucket": "b"}, "upload_storage: unknown key 'bucket'"),
        ({"options": {}}, "upload_storage.backend must be the import path"),
        ({"backend": "S3Storage"}, "upload_storage.backend must be the import path"),
        ({"backend": S3, "options": ["b"]}, "upload_storage.options must be a mapping"),
        ("s3://bucket", "upload_storage must be a mapping"),
    ],
)
def test_a_bad_upload_storage_is_a_config_error(tmp_path, storage, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, storage)


def _site_storages(tmp_path: Path, ftproxy_settings: dict) -> dict:
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({"ftproxy_settings": ftproxy_settings}))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="gateway_site.settings",
        FTPROXY_CONFIG=str(config),
        FTPROXY_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SECRET_KEY="x",
    )
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps(settings.STORAGES['ftproxy-uploads'], default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_site_fills_the_ftproxy_uploads_storage_from_the_yaml(tmp_path):
    options = {"bucket_name": "parts", "location": "p"}
    storage = _site_storages(tmp_path, {"upload_storage": {"backend": S3, "options": options}})
    assert storage == {"BACKEND": S3, "OPTIONS": options}
    default = _site_storages(tmp_path, {})
    assert default["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert default["OPTIONS"] == {"location": str(tmp_path / "var" / "uploads")}


def test_a_project_storage_alias_holds_the_parts(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        upload_store.STORAGE_ALIAS: {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "shared")},
        },
    }
    size = upload_store.save_part("upload-1", "part-1", io.BytesIO(b"abc"), None)
    assert size == 3
    assert (tmp_path / "shared" / "upload-1" / "part-1").read_bytes() == b"abc"
    with upload_store.PartsReader(["upload-1/part-1"], [3]) as reader:
        assert reader.read() == b"abc"
    upload_store.free("upload-1")
    assert not (tmp_path / "shared" / "upload-1").exists()
