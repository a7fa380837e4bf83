"""manage.py honours Django's --settings and --pythonpath options (it loads
the settings early to report config errors plainly, which must not skip them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
