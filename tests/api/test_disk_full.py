"""A full disk is a 507 with a clear message, leaving no partial file open
or on disk; spool files of dead requests are removed."""

from __future__ import annotations

import errno
import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.management import call_command

from ftproxy.models import File
from ftproxy.services.files.spool import clean_spool
from tests.conftest import TRAINING

OPENED: list = []


class DiskFillsUp(TemporaryFileUploadHandler):
    """Django's spooling handler on a disk that fills up after the first chunk."""

    chunk_size = 64

    def receive_data_chunk(self, raw_data, start):
        OPENED.append(self.file)
        if start > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().receive_data_chunk(raw_data, start)


@pytest.mark.django_db
def test_a_disk_full_while_spooling_an_upload_is_a_507_leaving_nothing(
    sandbox, master, settings, tmp_path
):
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.DiskFillsUp"]
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    OPENED.clear()
    response = master.upload(TRAINING)
    assert response.status_code == 507
    error = response.json()["error"]
    assert error["code"] == "insufficient_storage" and "disk is full" in error["message"]
    assert "x-should-retry" not in response  # nothing reached a provider
    assert OPENED and all(spooled.closed for spooled in OPENED)
    assert list(spool.iterdir()) == []
    assert not File.objects.exists()
    # and the next upload, with room again, works
    settings.FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
    assert master.upload(TRAINING).status_code == 200


def _spool_file(directory: Path, name: str, age_seconds: float) -> Path:
    path = directory / name
    path.write_bytes(b"partial upload")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


@pytest.mark.django_db
def test_spool_files_of_dead_requests_are_removed_by_the_sync(sandbox, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    dead = _spool_file(tmp_path, "tmpdead.upload.jsonl", age_seconds=24 * 3600)
    live = _spool_file(tmp_path, "tmplive.upload.jsonl", age_seconds=1)
    call_command("ftproxy_sync_jobs", stdout=io.StringIO(), stderr=io.StringIO())
    assert not dead.exists() and live.exists()
    assert clean_spool() == 0
