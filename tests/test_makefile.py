"""The Makefile's defaults: the local master key goes only with the example
config, so a production config never runs on a key everyone knows."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
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


#: Runs `run`'s watcher loop alone (the real one needs the server beside it)
#: for a while, then stops it the way `run` does.
PROBE = (
    "probe:\n"
    "\t@( $(SUPERVISED_SYNC) ) & loop=$$!; sleep $(FOR); kill -TERM $$loop; "
    'wait $$loop; echo "loop ended $$?"\n'
)


def supervise(tmp_path: Path, sync: str, seconds: float) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FTPROXY_")}
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-f",
            "Makefile",
            "-f",
            "-",
            "probe",
            f"SYNC={sync}",
            "SYNC_RESTART_SECONDS=0.3",
            f"FOR={seconds}",
        ],
        input=PROBE,
        cwd=ROOT,
        env={**base, "FTPROXY_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_run_restarts_a_sync_watcher_that_dies(tmp_path):
    starts = tmp_path / "starts"
    result = supervise(tmp_path, f"sh -c 'echo started >> {starts}; exit 3'", 2)
    assert result.returncode == 0, result.stderr
    assert starts.read_text().count("started") >= 3
    assert "the sync watcher exited with status 3; restarting it in 0.3 s" in result.stderr
    assert "loop ended 0" in result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_run_leaves_a_watcher_that_was_asked_to_stop_and_stops_a_running_one(tmp_path):
    starts = tmp_path / "starts"
    stopped = supervise(tmp_path, f"sh -c 'echo started >> {starts}; exit 0'", 1)
    assert starts.read_text().count("started") == 1
    assert "restarting" not in stopped.stderr

    began = time.monotonic()
    running = supervise(tmp_path, "sleep 30", 0.5)
    assert "loop ended 0" in running.stdout
    assert time.monotonic() - began < 10  # the TERM reached the watcher itself
