"""``POST /v1/uploads/{id}/parts``: how a part is parsed and stored, and
what a part request may carry."""

from __future__ import annotations

import errno
import io
import os
import shutil
import time
from pathlib import Path

import pytest

from ftproxy.errors import GatewayError
from ftproxy.models import Upload
from ftproxy.services.uploads import service as upload_service
from ftproxy.services.uploads import store as upload_store
from ftproxy.services.uploads.cleanup import clean_up_uploads
from tests.api.test_uploads import add_part, create, error
from tests.conftest import TRAINING


def test_a_part_is_parsed_next_to_the_parts_never_in_the_system_temp_dir(
    sandbox, master, settings, tmp_path
):
    # Any use of Django's temporary upload directory (often a RAM-backed
    # /tmp, or another file system, where storing the part is a copy) fails.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "missing")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    upload_id = create(master).json()["id"]
    response = add_part(master, upload_id, TRAINING)
    assert response.status_code == 200, response.content
    part_path = Path(
        upload_store.storage().path(upload_store.part_name(upload_id, response.json()["id"]))
    )
    assert part_path.read_bytes() == TRAINING
    assert list(upload_store.incoming_dir().iterdir()) == []  # moved, nothing left behind


def _post(api, upload_id, fields):
    return api.client.post(f"/v1/uploads/{upload_id}/parts", fields, **api.request_headers(None))


def _blob(data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = "blob"
    return handle


def test_two_data_files_in_one_part_are_400_not_one_dropped(sandbox, master):
    upload_id = create(master, len(TRAINING)).json()["id"]
    half = len(TRAINING) // 2
    response = _post(master, upload_id, {"data": [_blob(TRAINING[:half]), _blob(TRAINING[half:])]})
    assert response.status_code == 400 and error(response)["param"] == "data"
    assert Upload.objects.get(public_id=upload_id).bytes_received == 0


def test_an_unknown_field_with_a_part_is_400_naming_it(sandbox, master):
    upload_id = create(master).json()["id"]
    response = _post(master, upload_id, {"data": _blob(TRAINING), "offset": "0"})
    assert response.status_code == 400 and error(response)["param"] == "offset"
    assert Upload.objects.get(public_id=upload_id).bytes_received == 0
    # The provider hint is no unknown field (the ledger routes the part anyway).
    response = _post(master, upload_id, {"data": _blob(TRAINING), "custom_llm_provider": "x"})
    assert response.status_code == 200, response.content


def test_a_sync_round_deletes_parts_a_dead_worker_left_half_parsed(sandbox, db):
    incoming = upload_store.incoming_dir()
    incoming.mkdir(parents=True, exist_ok=True)
    old, fresh = incoming / "tmpold.part", incoming / "tmpnew.part"
    old.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    result = clean_up_uploads()
    assert not old.exists() and fresh.exists()  # a part being received now stays
    assert result.freed == 1
    fresh.unlink()


def test_a_part_is_507_before_it_is_read_when_the_disk_is_nearly_full(sandbox, master, monkeypatch):
    upload_id = create(master).json()["id"]
    real = shutil.disk_usage

    def nearly_full(path):
        usage = real(path)
        reserve = upload_service.reserve_bytes(usage.total)
        return usage._replace(free=reserve + len(TRAINING) // 2)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    response = add_part(master, upload_id, TRAINING)
    assert response.status_code == 507
    assert error(response)["code"] == "insufficient_storage"
    assert Upload.objects.get(public_id=upload_id).bytes_received == 0
    assert not upload_store.storage().exists(upload_id)
    assert list(upload_store.incoming_dir().iterdir()) == []  # not even parsed
    monkeypatch.setattr(shutil, "disk_usage", real)
    assert add_part(master, upload_id, TRAINING).status_code == 200


def test_a_disk_that_fills_up_while_a_part_is_stored_is_507_not_500(sandbox, db, monkeypatch):
    from ftproxy.services.ledger.context import MASTER, CallContext

    ctx = CallContext(MASTER)
    upload = upload_service.create_upload(
        ctx,
        filename="x.bin",
        purpose="batch",
        size=10,
        mime_type="application/octet-stream",
        expires_after=None,
        entry=None,
    )

    class Full(io.RawIOBase):
        def readable(self):
            return True

        def seek(self, offset, whence=0):
            return 0

        def readinto(self, buffer):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(GatewayError) as caught:
        upload_service.add_part(ctx, upload.public_id, stream=Full(), size=10)
    assert caught.value.status_code == 507
    assert Upload.objects.get(pk=upload.pk).bytes_received == 0
