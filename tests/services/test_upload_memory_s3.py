"""Parts on S3 (django-storages on moto's server, in its own process) are
read back at completion as ranged streams: memory stays flat however large
a part is (measured with tracemalloc, with a bound)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import boto3
import pytest
import requests

from ftproxy.services.uploads import store as upload_store
from tests.test_live_server import free_port

PART_BYTES = 24 * 1024 * 1024
#: Peak Python allocations allowed while the parts are read: a few buffers.
BOUND_BYTES = 8 * 1024 * 1024
BUCKET = "parts"


@pytest.fixture
def s3_storage(settings):
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        credentials = {"access_key": "testing", "secret_key": "testing"}
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            upload_store.STORAGE_ALIAS: {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "endpoint_url": endpoint,
                    "region_name": "us-east-1",
                    "addressing_style": "path",
                    **credentials,
                },
            },
        }
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_parts_on_s3_are_read_in_order_with_flat_memory(s3_storage):
    blocks = [os.urandom(1024 * 1024) for _ in range(2)]
    sizes = []
    for index, block in enumerate(blocks):
        data = io.BytesIO(block * (PART_BYTES // len(block)))
        sizes.append(upload_store.save_part("upload-s3", f"part-{index}", data, None))
    assert sizes == [PART_BYTES, PART_BYTES]
    names = [upload_store.part_name("upload-s3", f"part-{index}") for index in range(2)]

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        read = []
        with upload_store.PartsReader(names, sizes) as reader:
            while chunk := reader.read(1024 * 1024):
                part = len(read) * len(chunk) // PART_BYTES
                read.append(chunk == blocks[part])
            reader.seek(PART_BYTES - 3)  # across the boundary, as a provider's retry seeks
            straddle = reader.read(6)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert len(read) == 2 * PART_BYTES // (1024 * 1024) and all(read)
    assert straddle == blocks[0][-3:] + blocks[1][:3]
    assert peak < BOUND_BYTES, f"peak {peak / 2**20:.1f} MiB"
    upload_store.free("upload-s3")
    assert upload_store.storage().listdir("upload-s3") == ([], [])
