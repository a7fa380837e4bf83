"""``ftproxy_settings.max_upload_total_mb``: the largest upload in parts."""

from __future__ import annotations

import pytest

from ftproxy.conf import gateway
from ftproxy.config import load_config
from ftproxy.errors import ConfigError


def test_the_total_limit_defaults_to_8192_mb(gateway_config):
    assert gateway_config({"files_settings": []})["max_upload_total_mb"] == 8192
    assert gateway().max_upload_total_bytes == 8192 * 1024 * 1024


def test_the_total_limit_is_read_and_checked(gateway_config, tmp_path):
    gateway_config({"ftproxy_settings": {"max_upload_total_mb": 100}})
    assert gateway().max_upload_total_bytes == 100 * 1024 * 1024
    path = tmp_path / "bad.yaml"
    path.write_text("ftproxy_settings:\n  max_upload_total_mb: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ftproxy_settings.max_upload_total_mb: must be"):
        load_config(path)
