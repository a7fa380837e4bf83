"""A forwarded upload (OpenAI's own Uploads API) whose upstream fails at
complete or cancel: the client gets the 5xx, the upload stays pending with
its parts, and the same call succeeds once the upstream is back."""

from __future__ import annotations

import responses

from ftproxy.models import File, LedgerState, Upload
from ftproxy.services.uploads import store as upload_store
from tests.api.test_uploads import (
    OPENAI_BASE,
    add_part,
    complete,
    create,
    openai_files,  # noqa: F401 (fixture)
    upstream_upload,
)
from tests.conftest import TRAINING

UPLOADED = {
    "id": "file-up1",
    "object": "file",
    "bytes": len(TRAINING),
    "created_at": 1_700_000_000,
    "filename": "train.jsonl",
    "purpose": "fine-tune",
    "status": "processed",
}


def _open_with_one_part(master) -> tuple[str, str]:
    responses.add(responses.POST, f"{OPENAI_BASE}/uploads", json=upstream_upload())
    responses.add(
        responses.POST, f"{OPENAI_BASE}/uploads/upload_up1/parts", json={"id": "part_up1"}
    )
    upload_id = create(master).json()["id"]
    part_id = add_part(master, upload_id, TRAINING).json()["id"]
    return upload_id, part_id


@responses.activate
def test_an_upstream_failure_at_complete_leaves_the_upload_pending_and_retryable(
    openai_files,  # noqa: F811
    master,
):
    upload_id, part_id = _open_with_one_part(master)
    url = f"{OPENAI_BASE}/uploads/upload_up1/complete"
    responses.add(responses.POST, url, status=500, json={"error": {"message": "boom"}})
    response = complete(master, upload_id, [part_id])
    assert response.status_code == 502
    row = Upload.objects.get(public_id=upload_id)
    assert (row.status, row.file_id, row.storage_freed) == ("pending", None, False)
    assert "boom" in row.error
    # Recorded, not lost; a 500 may have completed it upstream, so the row
    # waits for the reconciler.
    assert File.objects.get().ledger_state == LedgerState.PENDING
    assert upload_store.storage().exists(upload_store.part_name(upload_id, part_id))

    responses.replace(responses.POST, url, json={**upstream_upload("completed"), "file": UPLOADED})
    response = complete(master, upload_id, [part_id])
    assert response.status_code == 200, response.content
    assert response.json()["file"]["id"] == "file-up1"
    assert Upload.objects.get(public_id=upload_id).status == "completed"


@responses.activate
def test_an_upstream_failure_at_cancel_keeps_the_upload_open_until_a_retry(
    openai_files,  # noqa: F811
    master,
):
    upload_id, _ = _open_with_one_part(master)
    url = f"{OPENAI_BASE}/uploads/upload_up1/cancel"
    responses.add(responses.POST, url, status=503, json={"error": {"message": "busy"}})
    response = master.post_json(f"/v1/uploads/{upload_id}/cancel")
    assert response.status_code >= 500
    row = Upload.objects.get(public_id=upload_id)
    assert (row.status, row.remote_open) == ("pending", True)

    responses.replace(responses.POST, url, json=upstream_upload("cancelled"))
    assert master.post_json(f"/v1/uploads/{upload_id}/cancel").json()["status"] == "cancelled"
    row.refresh_from_db()
    assert (row.status, row.remote_open, row.storage_freed) == ("cancelled", False, True)
