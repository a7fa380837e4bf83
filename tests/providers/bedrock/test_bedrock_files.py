"""Bedrock files: S3 objects at moto's server, named by the gateway's file id."""

from __future__ import annotations

import io

import pytest

from ftproxy.errors import ProviderError, ProviderNotFound, ProviderNotSupported
from ftproxy.providers.data import FileUpload

from .helpers import BUCKET, chat, entry, jsonl, new_job, provider, read_object, s3, upload

DATA = jsonl(chat(("user", "Hi"), ("assistant", "Hello.")))


def test_a_file_is_the_users_bytes_under_the_gateways_file_id(aws):
    created = upload(provider(), DATA, gateway_id="file-abc")
    assert created.remote_id == f"s3://{BUCKET}/team-a/ftproxy/file-abc/train.jsonl"
    assert read_object(aws, created.remote_id) == DATA
    assert (created.bytes, created.purpose, created.filename) == (
        len(DATA),
        "fine-tune",
        "train.jsonl",
    )


def test_the_content_streams_back_byte_exact(aws):
    bedrock = provider()
    content = bedrock.file_content(upload(bedrock, DATA).remote_id)
    try:
        assert b"".join(content.chunks) == DATA and content.length == len(DATA)
    finally:
        content.close()


def test_find_file_finds_a_finished_upload_and_proves_a_dead_one_absent(aws):
    bedrock = provider()
    upload(bedrock, DATA, gateway_id="file-done")
    probe = FileUpload("train.jsonl", "fine-tune", None, 0)
    found = bedrock.find_file("file-done", probe)
    assert found.remote_id.endswith("/ftproxy/file-done/train.jsonl") and found.bytes == len(DATA)
    assert bedrock.find_file("file-never", probe) is None


def test_delete_removes_the_file_and_its_converted_copies(aws):
    bedrock = provider()
    created = upload(bedrock, DATA)
    new_job(bedrock, created.remote_id)
    bedrock.delete_file(created.remote_id)
    listed = s3(aws).list_objects_v2(Bucket=BUCKET).get("Contents") or []
    assert [o["Key"] for o in listed] == []
    with pytest.raises(ProviderNotFound):
        bedrock.delete_file(created.remote_id)


def test_reading_a_missing_file_or_a_foreign_reference_is_404(aws):
    bedrock = provider()
    with pytest.raises(ProviderNotFound):
        bedrock.file_content(f"s3://{BUCKET}/team-a/ftproxy/nope/train.jsonl")
    with pytest.raises(ProviderNotFound):
        bedrock.file_content("gs://elsewhere/train.jsonl")


def test_an_entry_without_a_bucket_cannot_store_files():
    bedrock = provider(s3_bucket=None)
    with pytest.raises(ProviderNotSupported) as caught:
        upload(bedrock, DATA)
    assert "s3_bucket" in caught.value.message and caught.value.status_code == 400


def test_a_missing_bucket_is_passed_on_as_404(aws):
    with pytest.raises(ProviderNotFound) as caught:
        upload(provider(s3_bucket="no-such-bucket"), DATA)
    assert "bucket" in caught.value.message.lower()


def test_the_endpoint_may_be_named_on_the_entry(aws, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    created = upload(provider(aws_endpoint_url=aws), DATA)
    assert read_object(aws, created.remote_id) == DATA


def test_credentials_come_from_the_default_chain_when_the_entry_has_none(aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")
    bare = {k: v for k, v in entry().items() if not k.startswith("aws_") or k == "aws_region_name"}
    from ftproxy.providers.bedrock import BedrockProvider

    created = upload(BedrockProvider(bare), DATA)
    assert read_object(aws, created.remote_id) == DATA


def test_a_role_is_assumed_for_the_entry(aws):
    bedrock = provider(aws_role_name="arn:aws:iam::123456789012:role/gateway")
    created = upload(bedrock, DATA)
    assert read_object(aws, created.remote_id) == DATA
    # The assumed role's secret joins the values redacted from upstream texts.
    assert len(bedrock.aws.secrets) == 3


def test_a_file_larger_than_a_part_goes_up_as_an_s3_multipart_upload(aws):
    bedrock = provider()
    bedrock.multipart_part_bytes = 5 * 1024 * 1024  # S3's smallest part
    data = bytes(range(256)) * (11 * 1024 * 1024 // 256)  # 11 MiB: parts of 5, 5 and 1
    created = upload(bedrock, data)
    assert read_object(aws, created.remote_id) == data
    key = created.remote_id.removeprefix(f"s3://{BUCKET}/")
    assert s3(aws).head_object(Bucket=BUCKET, Key=key, PartNumber=1)["PartsCount"] == 3


def test_a_multipart_upload_that_fails_is_aborted(aws):
    bedrock = provider()
    bedrock.multipart_part_bytes = 5 * 1024 * 1024
    data = b"x" * (6 * 1024 * 1024)
    stream = ShortStream(data, cut=5 * 1024 * 1024 + 10)  # ends early: the size lied
    with pytest.raises(ProviderError) as caught:
        bedrock.upload_file(FileUpload("train.jsonl", "fine-tune", stream, len(data)))
    assert caught.value.status_code == 400 and "ended after" in caught.value.message
    assert not s3(aws).list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    assert not s3(aws).list_objects_v2(Bucket=BUCKET).get("Contents")


class ShortStream(io.BytesIO):
    """A stream that holds fewer bytes than the upload says."""

    def __init__(self, data: bytes, cut: int):
        super().__init__(data[:cut])
