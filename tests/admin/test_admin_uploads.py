"""The upload admin: a read-only list of uploads with their parts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ftproxy.models import UploadPart
from tests.factories import ledger_upload


@pytest.fixture
def upload(db):
    row = ledger_upload("upload-abc", bytes_received=20)
    for n in range(2):
        UploadPart.objects.create(upload=row, public_id=f"part-{n}", bytes=10, created_at=1)
    return row


def test_the_upload_list_shows_parts_bytes_and_status(admin_client, upload):
    response = admin_client.get(reverse("admin:ftproxy_upload_changelist"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "upload-abc" in text and "big.jsonl" in text and "pending" in text
    assert '<td class="field-part_count">2</td>' in text


def test_the_upload_page_is_read_only_with_its_parts(admin_client, upload):
    response = admin_client.get(reverse("admin:ftproxy_upload_change", args=[upload.pk]))
    assert response.status_code == 200
    assert "part-1" in response.content.decode()
    assert b'name="_save"' not in response.content
    add = admin_client.get(reverse("admin:ftproxy_upload_add"))
    assert add.status_code == 403
