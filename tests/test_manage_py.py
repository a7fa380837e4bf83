"""manage.py honours Django's --settings and --pythonpath options (it loads
the settings early to report config errors plainly, which must not skip them),
and runs without the master key, which only the server needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftproxy.config import load_config, require_master_key
from ftproxy.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ftproxy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, master_key_optional=True)
    return str(info.value)


def test_settings_and_pythonpath_options_are_applied(tmp_path):
    (tmp_path / "other_settings.py").write_text(
        "from gateway_site.settings import *  # noqa\nMARKER_OF_OTHER_SETTINGS = 1\n"
    )
    env = {**os.environ, "FTPROXY_MASTER_KEY": "sk-test", "FTPROXY_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "diffsettings", "--settings=other_settings"]
        + ["--pythonpath", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "MARKER_OF_OTHER_SETTINGS = 1" in result.stdout


def _without_master_key(tmp_path: Path) -> dict[str, str]:
    """The example config (which reads FTPROXY_MASTER_KEY) with the variable
    unset, on a fresh SQLite database of its own."""
    env = {
        **os.environ,
        "FTPROXY_VAR_DIR": str(tmp_path),
        "FTPROXY_CONFIG": str(ROOT / "config" / "example.yaml"),
        "DJANGO_SETTINGS_MODULE": "gateway_site.settings",
    }
    for name in ("FTPROXY_MASTER_KEY", "DATABASE_URL"):
        env.pop(name, None)
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_commands_run_without_the_master_key(tmp_path):
    env = _without_master_key(tmp_path)
    for argv in (["help"], ["check"], ["migrate", "--noinput"]):
        result = _run(["manage.py", *argv], env)
        assert result.returncode == 0, (argv, result.stderr)
    created = _run(["manage.py", "ftproxy_create_key", "--name", "first"], env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().splitlines()[-1].startswith("sk-")


def test_the_server_refuses_to_start_without_the_master_key(tmp_path):
    env = _without_master_key(tmp_path)
    served = _run(["-m", "gateway_site.serve", "--bind", "127.0.0.1:1"], env)
    assert served.returncode == 1
    assert "FTPROXY_MASTER_KEY is not set" in served.stderr
    assert "the server needs the master key" in served.stderr
    for module in ("gateway_site.wsgi",):
        imported = _run(["-c", f"import {module}"], env)
        assert imported.returncode != 0, module
        assert "FTPROXY_MASTER_KEY is not set" in imported.stderr, module


def test_the_server_starts_with_the_master_key(tmp_path):
    env = {**_without_master_key(tmp_path), "FTPROXY_MASTER_KEY": "sk-test"}
    imported = _run(["-c", "import gateway_site.wsgi"], env)
    assert imported.returncode == 0, imported.stderr


def test_master_key_of_an_unset_variable_may_be_left_for_the_server(tmp_path: Path) -> None:
    path = write(tmp_path, "general_settings:\n  master_key: os.environ/FTPROXY_TEST_MISSING\n")
    config = load_config(path, master_key_optional=True)
    assert config["master_key"] is None
    with pytest.raises(ConfigError) as info:
        require_master_key(config)
    assert "general_settings.master_key" in str(info.value)
    assert "FTPROXY_TEST_MISSING is not set" in str(info.value)
    # Any other mistake in it still stops loading; a key that is set is kept.
    broken = write(tmp_path, "general_settings:\n  master_key: os.environ/\n")
    assert "needs a variable name" in _error_of(broken)
    require_master_key(load_config(write(tmp_path, "general_settings:\n  master_key: sk-x\n")))
