"""A large upload in parts keeps memory flat: no part and no upload is ever
held whole in memory (measured with tracemalloc, with a bound)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest

from ftproxy.models import File
from ftproxy.services.ledger.context import MASTER, CallContext
from ftproxy.services.uploads import service as upload_service
from ftproxy.services.uploads.complete import complete_upload

PART_BYTES = 64 * 1024 * 1024
PARTS = 5  # 320 MiB in all
#: Peak Python allocations allowed while the upload passes: a few read buffers.
BOUND_BYTES = 16 * 1024 * 1024


@pytest.fixture
def part_file(tmp_path):
    path = tmp_path / "part.bin"
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as out:
        for _ in range(PART_BYTES // len(block)):
            out.write(block)
    return path


def test_320_mib_in_64_mib_parts_through_the_sandbox_stays_flat(sandbox, db, part_file):
    ctx = CallContext(MASTER)
    total = PART_BYTES * PARTS
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        upload = upload_service.create_upload(
            ctx,
            filename="big.bin",
            purpose="batch",
            size=total,
            mime_type="application/octet-stream",
            expires_after=None,
            entry=None,
        )
        part_ids = []
        for _ in range(PARTS):
            with open(part_file, "rb") as stream:
                part = upload_service.add_part(
                    ctx, upload.public_id, stream=stream, size=PART_BYTES
                )
            part_ids.append(part.public_id)
        done = complete_upload(ctx, upload.public_id, part_ids=part_ids, md5=None)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert done.status == "completed"
    assert File.objects.get(pk=done.file_id).bytes == total
    assert peak < BOUND_BYTES, f"peak Python allocations grew by {peak / 2**20:.1f} MiB"
    assert peak < total / 20
    expected = hashlib.sha256()
    for _ in range(PARTS):
        with open(part_file, "rb") as stream:
            while chunk := stream.read(1024 * 1024):
                expected.update(chunk)
    assert File.objects.get(pk=done.file_id).sha256 == expected.hexdigest()
    print(f"peak growth {peak / 2**20:.1f} MiB for {total / 2**20:.0f} MiB")
