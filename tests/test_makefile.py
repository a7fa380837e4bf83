"""The Makefile's defaults: the local master key goes only with the example
config, so a production config never runs on a key everyone knows."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOW = 'show:\n\t@echo "[$$FTPROXY_MASTER_KEY]"\n'


def master_key_make_exports(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FTPROXY_")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "show"],
        input=SHOW,
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_local_master_key_is_the_example_configs_only():
    assert master_key_make_exports() == "[sk-ftproxy-local-master]"
    assert master_key_make_exports(FTPROXY_CONFIG="/etc/ftproxy/config.yaml") == "[]"
    mine = master_key_make_exports(
        FTPROXY_CONFIG="/etc/ftproxy/config.yaml", FTPROXY_MASTER_KEY="k"
    )
    assert mine == "[k]"
