"""Two hosts, one ledger, one shared parts' storage: two server processes
(each with its own ``FTPROXY_VAR_DIR``, as two hosts have) on one database,
the parts on S3 (django-storages' S3 backend on moto's server). Any host
takes any part of an Upload, completes it, or cancels it.

The database is the test database on PostgreSQL, else one SQLite file both
servers open. The sandbox's own storage (the "upstream") is one folder both
use, as a real upstream is one service.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import yaml
from moto.server import ThreadedMotoServer

from tests.conftest import MASTER_KEY, chat_line, jsonl
from tests.test_live_server import free_port, server_env, serving

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
BUCKET = "ftproxy-parts"
#: ~12 KB of chat lines, sent in parts whose boundaries fall inside lines.
DATA = jsonl(*(chat_line(f"Question {i}: ça va?", f"Answer {i} ✓" * 4) for i in range(80)))
PART = 2_500


@pytest.fixture
def s3() -> Iterator[tuple[str, Any]]:
    """moto's S3 server on 127.0.0.1 with an empty bucket: (endpoint, client)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield endpoint, client
    finally:
        server.stop()


def stored_keys(client) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def two_hosts(tmp_path, s3) -> Iterator[tuple[str, str]]:
    """Two servers (base URLs) on one database and one parts' storage."""
    from django.db import connection

    endpoint, _ = s3
    upstream = tmp_path / "sandbox-upstream"
    entry = {
        "custom_llm_provider": "sandbox",
        "storage_dir": str(upstream),
        "validate_seconds": 0,
        "queue_seconds": 0,
        "run_seconds": 3600,
    }
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "general_settings": {"master_key": "os.environ/FTPROXY_MASTER_KEY"},
                "finetune_settings": [entry],
                "files_settings": [dict(entry)],
                "ftproxy_settings": {
                    "max_upload_mb": 4,
                    "upload_storage": {
                        "backend": "storages.backends.s3.S3Storage",
                        "options": {
                            "bucket_name": BUCKET,
                            "endpoint_url": endpoint,
                            "access_key": "testing",
                            "secret_key": "testing",
                            "region_name": "us-east-1",
                            "addressing_style": "path",
                            "location": "upload-parts",
                        },
                    },
                },
            }
        )
    )
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        host = db["HOST"] or "127.0.0.1"
        database_url = f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
        migrate = False  # the test database is migrated already
    else:
        database_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        migrate = True
    envs = []
    for name in ("host-a", "host-b"):
        var_dir = tmp_path / name
        var_dir.mkdir()
        env = server_env(var_dir, DATABASE_URL=database_url)
        env["FTPROXY_CONFIG"] = str(config)
        envs.append(env)
    with contextlib.ExitStack() as stack:
        a, _ = stack.enter_context(serving(envs[0], migrate=migrate))
        b, _ = stack.enter_context(serving(envs[1], migrate=False))
        yield a, b


def create_upload(base: str, size: int) -> str:
    body = {
        "filename": "big.jsonl",
        "purpose": "fine-tune",
        "bytes": size,
        "mime_type": "text/jsonl",
    }
    response = requests.post(f"{base}/v1/uploads", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def add_part(base: str, upload_id: str, chunk: bytes) -> str:
    response = requests.post(
        f"{base}/v1/uploads/{upload_id}/parts",
        files={"data": ("blob", chunk)},
        headers=AUTH,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_parts_sent_to_alternating_hosts_complete_on_either_into_exactly_their_bytes(two_hosts, s3):
    a, b = two_hosts
    _, client = s3
    upload_id = create_upload(a, len(DATA))
    chunks = [DATA[i : i + PART] for i in range(0, len(DATA), PART)]
    assert len(chunks) >= 4
    part_ids = [add_part((a, b)[i % 2], upload_id, chunk) for i, chunk in enumerate(chunks)]
    assert len(stored_keys(client)) == len(chunks)  # on the shared storage, not on a host

    listed = requests.get(f"{a}/v1/uploads/{upload_id}/parts", headers=AUTH, timeout=30).json()
    assert [p["id"] for p in listed["data"]] == part_ids
    assert all(p["status"] == "stored" for p in listed["data"])
    assert [p["bytes"] for p in listed["data"]] == [len(c) for c in chunks]

    completed = requests.post(
        f"{b}/v1/uploads/{upload_id}/complete",
        json={"part_ids": part_ids},
        headers=AUTH,
        timeout=60,
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    file_id = completed.json()["file"]["id"]
    assert completed.json()["file"]["bytes"] == len(DATA)
    for base in (a, b):
        content = requests.get(f"{base}/v1/files/{file_id}/content", headers=AUTH, timeout=30)
        assert content.status_code == 200
        assert content.content == DATA
    assert stored_keys(client) == []  # freed through the storage


def test_an_upload_is_cancelled_on_the_host_that_did_not_create_it(two_hosts, s3):
    a, b = two_hosts
    _, client = s3
    upload_id = create_upload(a, len(DATA))
    add_part(a, upload_id, DATA[:PART])
    add_part(b, upload_id, DATA[PART : 2 * PART])
    assert len(stored_keys(client)) == 2
    cancelled = requests.post(f"{b}/v1/uploads/{upload_id}/cancel", headers=AUTH, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert stored_keys(client) == []
    again = requests.post(
        f"{a}/v1/uploads/{upload_id}/parts",
        files={"data": ("blob", DATA[:PART])},
        headers=AUTH,
        timeout=30,
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "upload_cancelled"
