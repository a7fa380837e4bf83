"""Uploads left half-done by a request that never finished: a part whose
worker died (or whose answer was lost) before it was stored and forwarded,
and a completion whose worker died mid-way.

The state a killed worker leaves is written into the ledger as that worker
would have left it: the part row with its bytes reserved and no
``remote_id``; the upload ``completing`` with no heartbeat since, its
``Idempotency-Key`` claim in flight.
"""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import responses
from botocore.config import Config
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ftproxy.conf import FILES, gateway
from ftproxy.models import File, IdempotencyRecord, LedgerState, Upload, UploadPart
from ftproxy.services.ledger.idempotency import fingerprint
from ftproxy.services.uploads import store as upload_store
from ftproxy.services.uploads.cleanup import clean_up_uploads
from tests.api.test_uploads import (
    OPENAI_BASE,
    add_part,
    complete,
    create,
    error,
    openai_files,  # noqa: F401 (fixture)
    upload_in_parts,
    upstream_upload,
)
from tests.conftest import TRAINING
from tests.factories import ledger_file
from tests.test_live_server import free_port

CUT = len(TRAINING) // 2
#: Long past any request's time limit.
LONG_AGO = 24 * 3600


def dead_part(upload_id: str, size: int, *, age: int = LONG_AGO) -> UploadPart:
    """What a worker killed after reserving a part's bytes leaves behind."""
    row = Upload.objects.get(public_id=upload_id)
    Upload.objects.filter(pk=row.pk).update(bytes_received=row.bytes_received + size)
    return UploadPart.objects.create(
        upload=row, public_id=f"part-dead{age}", bytes=size, created_at=int(time.time()) - age
    )


def forwarded_upload(master) -> tuple[str, str, list]:
    """A forwarded upload with its first half stored: (upload id, part id,
    the upstream complete calls)."""
    completes: list = []
    responses.add(responses.POST, f"{OPENAI_BASE}/uploads", json=upstream_upload())
    parts = iter(range(1, 10))
    responses.add_callback(
        responses.POST,
        f"{OPENAI_BASE}/uploads/upload_up1/parts",
        callback=lambda request: (200, {}, json.dumps({"id": f"part_up{next(parts)}"})),
    )

    def answer_complete(request):
        completes.append(json.loads(request.body))
        file = {"id": "file-up1", "object": "file", "bytes": len(TRAINING), "created_at": 1}
        body = {**upstream_upload("completed"), "file": {**file, "purpose": "fine-tune"}}
        return 200, {}, json.dumps(body)

    responses.add_callback(
        responses.POST, f"{OPENAI_BASE}/uploads/upload_up1/complete", callback=answer_complete
    )
    upload_id = create(master).json()["id"]
    first = add_part(master, upload_id, TRAINING[:CUT])
    assert first.status_code == 200, first.content
    return upload_id, first.json()["id"], completes


# ---- finding 4: parts whose request never finished -----------------------------------


@responses.activate
def test_a_part_whose_worker_died_before_forwarding_frees_its_bytes_and_can_be_resent(
    openai_files,  # noqa: F811
    master,
):
    upload_id, first, completes = forwarded_upload(master)
    dead = dead_part(upload_id, len(TRAINING) - CUT)

    listed = master.get(f"/v1/uploads/{upload_id}/parts")
    assert listed.status_code == 200, listed.content
    assert [(p["id"], p["bytes"], p["status"]) for p in listed.json()["data"]] == [
        (first, CUT, "stored"),
        (dead.public_id, len(TRAINING) - CUT, "receiving"),
    ]

    # Completing with the orphan is a 400 naming it; nothing is forwarded.
    response = complete(master, upload_id, [first, dead.public_id])
    assert response.status_code == 400
    assert error(response)["code"] == "upload_part_incomplete"
    assert dead.public_id in error(response)["message"]
    assert completes == []
    assert Upload.objects.get(public_id=upload_id).status == "pending"

    # The resend fits: the orphan's reservation is freed.
    again = add_part(master, upload_id, TRAINING[CUT:])
    assert again.status_code == 200, again.content
    assert not UploadPart.objects.filter(public_id=dead.public_id).exists()
    assert Upload.objects.get(public_id=upload_id).bytes_received == len(TRAINING)
    response = complete(master, upload_id, [first, again.json()["id"]])
    assert response.status_code == 200, response.content
    assert completes == [{"part_ids": ["part_up1", "part_up2"]}]


def test_a_part_still_within_its_request_limit_keeps_its_reservation(sandbox, master):
    upload_id = create(master).json()["id"]
    assert add_part(master, upload_id, TRAINING[:CUT]).status_code == 200
    dead_part(upload_id, len(TRAINING) - CUT, age=1)  # its request may still be running
    response = add_part(master, upload_id, TRAINING[CUT:])
    assert response.status_code == 400
    assert f"/v1/uploads/{upload_id}/parts" in error(response)["message"]


def test_a_sync_round_frees_abandoned_parts(sandbox, master):
    upload_id = create(master).json()["id"]
    assert add_part(master, upload_id, TRAINING[:CUT]).status_code == 200
    dead = dead_part(upload_id, len(TRAINING) - CUT)
    upload_store.save_part(upload_id, dead.public_id, _stream(b"half"), None)
    result = clean_up_uploads()
    assert result.freed == 1
    assert Upload.objects.get(public_id=upload_id).bytes_received == CUT
    assert not upload_store.storage().exists(upload_store.part_name(upload_id, dead.public_id))


def test_complete_names_a_part_missing_from_storage(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    upload_store.delete_part(upload_id, parts[1])
    response = complete(master, upload_id, parts)
    assert response.status_code == 400
    assert error(response)["code"] == "upload_part_incomplete"
    assert parts[1] in error(response)["message"]
    assert Upload.objects.get(public_id=upload_id).status == "pending"


def test_listing_parts_is_the_owners_only(sandbox, api_as, make_key, master):
    upload_id, parts = upload_in_parts(master)
    listed = master.get(f"/v1/uploads/{upload_id}/parts").json()
    assert listed["object"] == "list" and [p["id"] for p in listed["data"]] == parts
    assert all(p["upload_id"] == upload_id for p in listed["data"])
    assert api_as(make_key("other")).get(f"/v1/uploads/{upload_id}/parts").status_code == 404
    many = create(master).json()["id"]
    for start in range(0, 1000, 100):
        assert add_part(master, many, TRAINING[start : start + 100]).status_code == 200
    counts = []
    for listed_id in (upload_id, many):
        with CaptureQueriesContext(connection) as queries:
            assert master.get(f"/v1/uploads/{listed_id}/parts").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]  # no query per part


def _stream(data: bytes):
    return io.BytesIO(data)


# ---- finding 5: completions whose worker died ----------------------------------------


def died_mid_complete(upload_id: str, **fields) -> Upload:
    """The upload as a worker killed mid-``complete`` leaves it: completing,
    no heartbeat for a day."""
    Upload.objects.filter(public_id=upload_id).update(
        status="completing", updated=timezone.now() - timedelta(seconds=LONG_AGO), **fields
    )
    return Upload.objects.get(public_id=upload_id)


def in_flight_claim(upload: Upload, key: str, parts: list[str]) -> None:
    """The dead request's ``Idempotency-Key`` claim: no answer, over."""
    IdempotencyRecord.objects.create(
        scope="master",
        key=key,
        fingerprint=fingerprint("uploads.complete", upload.public_id, parts, ""),
        object_id=f"upload:{upload.pk}",
        expires_at=timezone.now() - timedelta(seconds=1),
    )


def test_a_completion_whose_worker_died_before_the_file_can_be_completed_again(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    died_mid_complete(upload_id)
    response = complete(master, upload_id, parts)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    assert File.objects.count() == 1


def test_a_completion_whose_worker_died_can_be_cancelled(sandbox, master):
    upload_id, _ = upload_in_parts(master)
    died_mid_complete(upload_id)
    response = master.post_json(f"/v1/uploads/{upload_id}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert not upload_store.storage().exists(upload_id)


def test_the_keyed_retry_links_a_file_the_dead_completion_created(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    done = complete(master, upload_id, parts)
    assert done.status_code == 200
    file_id = done.json()["file"]["id"]
    # Rewound to the moment the sandbox had stored the file and the worker
    # died: the row pending under the gateway's id the upload carried.
    (record,) = gateway().provider(FILES, "sandbox").store.records("files")
    File.objects.filter(public_id=file_id).update(
        ledger_state=LedgerState.PENDING, public_id=record["gateway_id"], remote_id=""
    )
    upload = died_mid_complete(upload_id, storage_freed=False)
    in_flight_claim(upload, "k-found", parts)

    retry = complete(master, upload_id, parts, headers={"Idempotency-Key": "k-found"})
    assert retry.status_code == 200, retry.content
    assert retry.json()["object"] == "upload" and retry.json()["status"] == "completed"
    assert retry.json()["file"]["id"] == file_id
    assert File.objects.count() == 1
    assert File.objects.get().ledger_state == LedgerState.OK


def test_the_keyed_retry_completes_when_the_dead_completions_file_is_absent(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    never_sent = ledger_file(
        "file-never-sent", provider="sandbox", remote_id="", ledger_state=LedgerState.PENDING
    )
    upload = died_mid_complete(upload_id, file=never_sent)
    in_flight_claim(upload, "k-absent", parts)

    retry = complete(master, upload_id, parts, headers={"Idempotency-Key": "k-absent"})
    assert retry.status_code == 200, retry.content
    assert retry.json()["status"] == "completed"
    assert retry.json()["file"]["id"] != "file-never-sent"
    assert File.objects.get(public_id="file-never-sent").ledger_state == LedgerState.FAILED
    replay = complete(master, upload_id, parts, headers={"Idempotency-Key": "k-absent"})
    assert replay.json() == retry.json()


def test_a_sync_round_settles_a_dead_completion(sandbox, master):
    upload_id, _ = upload_in_parts(master)
    died_mid_complete(upload_id)
    result = clean_up_uploads()
    assert result.settled == 1
    assert Upload.objects.get(public_id=upload_id).status == "pending"


def test_a_parts_storage_that_fails_is_a_503_and_frees_the_reservation(sandbox, master, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        upload_store.STORAGE_ALIAS: {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "nowhere",
                "endpoint_url": f"http://127.0.0.1:{free_port()}",  # nothing listens
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "client_config": Config(retries={"max_attempts": 1}, connect_timeout=1),
            },
        },
    }
    upload_id = create(master).json()["id"]
    response = add_part(master, upload_id, TRAINING)
    assert response.status_code == 503
    assert error(response)["code"] == "storage_unavailable"
    row = Upload.objects.get(public_id=upload_id)
    assert row.bytes_received == 0 and not row.parts.exists()


def test_reading_the_parts_calls_the_heartbeat_now_and_then(sandbox, master):
    upload_id, parts = upload_in_parts(master)
    names = [upload_store.part_name(upload_id, part) for part in parts]
    sizes = [CUT, len(TRAINING) - CUT]
    beats: list[int] = []
    with upload_store.PartsReader(names, sizes, on_progress=lambda: beats.append(1)) as reader:
        assert reader.read(10) == TRAINING[:10]
        assert beats == []  # not at every read
        reader.PROGRESS_SECONDS = 0
        assert reader.read() == TRAINING[10:]
    assert beats == [1]
