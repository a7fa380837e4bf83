"""Amazon S3 objects as the files of a Bedrock entry (``S3Files``, a base of
``BedrockProvider``).

A file is the object ``<s3_prefix>/ftproxy/<file id>/<name>`` holding the
user's bytes as uploaded; its remote id is the ``s3://`` URI. The folder is
named by the gateway's file id, so a dead upload is found again
(``find_file``). The Bedrock-format copy a job trains on is written beside
it at job create, in a sub-folder named for the format
(``…/<file id>/bedrock-conversation-2024/<name>``), because the format
depends on the job's base model, not on the file.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from typing import Any

from ...errors import ProviderError, ProviderInputError, ProviderNotFound, ProviderNotSupported
from ..data import FileContent, FileUpload, RemoteFile
from .catalog import CONVERSATION, PROMPT_COMPLETION

OBJECT_ROOT = "ftproxy"
CONVERTED_FOLDERS = frozenset({CONVERSATION, PROMPT_COMPLETION})
#: Bytes per chunk when streaming an object back.
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
#: S3's smallest part of a multipart upload (all but the last).
S3_MIN_PART_BYTES = 5 * 1024 * 1024


class Window:
    """``length`` bytes of a seekable ``stream`` from ``start``, as a file
    botocore can read, measure and rewind (one S3 part, never in memory)."""

    def __init__(self, stream: Any, start: int, length: int):
        self._stream, self._start, self._length, self._at = stream, start, length, 0

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._at
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        self._stream.seek(self._start + self._at)
        data = self._stream.read(size)
        if not data:  # the upload's declared size lied: fail now, not at a timeout
            raise ProviderInputError(
                f"The uploaded file ended after {self._start + self._at} bytes, "
                f"short of the {self._start + self._length} it was to hold."
            )
        self._at += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._at, 2: self._length}[whence]
        self._at = max(0, min(self._length, base + offset))
        return self._at

    def tell(self) -> int:
        return self._at


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key); ProviderNotFound otherwise."""
    bucket, _, key = (uri or "").removeprefix("s3://").partition("/")
    if not (uri or "").startswith("s3://") or not bucket or not key:
        raise ProviderNotFound(f"Not an S3 file reference: {uri!r}.")
    return bucket, key


def safe_filename(filename: str) -> str:
    """The last path segment of ``filename`` with only characters safe in
    object keys (the real filename stays in the ledger)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).strip("._")[:100]
    return cleaned or "file"


def converted_key(key: str, data_format: str) -> str:
    """Where the ``data_format`` copy of the object ``key`` goes."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/{data_format}/{name}"


def original_key(key: str) -> str:
    """The user's object for a converted copy's ``key``, else ``key``."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[-2] in CONVERTED_FOLDERS:
        return "/".join(parts[:-2] + parts[-1:])
    return key


class S3Files:
    """The S3 half of the provider; it supplies ``name``, ``kind``, ``aws``
    (``AwsClients``), ``bucket`` and ``prefix``."""

    #: Bytes per part of an S3 multipart upload, and the largest file sent
    #: in one PUT (S3 needs at least 5 MiB per part but the last).
    multipart_part_bytes: int = 64 * 1024 * 1024

    def _folder(self, gateway_id: str | None) -> str:
        return "/".join(p for p in (self.prefix, OBJECT_ROOT, gateway_id or uuid.uuid4().hex) if p)

    def check_upload(self, upload: FileUpload) -> None:
        """Files need the entry's ``s3_bucket``."""
        if not self.bucket:
            raise ProviderNotSupported(
                f"Uploading files needs 's3_bucket' on the {self.kind} entry '{self.name}'.",
                provider=self.name,
            )

    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Store the user's bytes, streamed, as one S3 object (byte-exact):
        one PUT, or an S3 multipart upload of ``multipart_part_bytes`` parts
        for a file larger than one part (S3 takes at most 5 GiB per PUT)."""
        self.check_upload(upload)
        key = f"{self._folder(upload.gateway_id)}/{safe_filename(upload.filename)}"
        upload.stream.seek(0)
        common = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": upload.content_type or "application/octet-stream",
            "Metadata": {"ftproxy-purpose": upload.purpose},
        }
        if upload.size <= self.multipart_part_bytes:
            self.aws.call(
                "s3", "put_object", Body=Window(upload.stream, 0, upload.size),
                ContentLength=upload.size, **common,
            )  # fmt: skip
        else:
            self._put_in_parts(upload, common)
        return self._stored_file(upload, key, {"bucket": self.bucket, "key": key})

    def _put_in_parts(self, upload: FileUpload, common: dict[str, Any]) -> None:
        """An S3 multipart upload of the stream; aborted if any part fails,
        so no half object stays behind."""
        started = self.aws.call("s3", "create_multipart_upload", **common)
        where = {"Bucket": common["Bucket"], "Key": common["Key"], "UploadId": started["UploadId"]}
        part_bytes = max(self.multipart_part_bytes, S3_MIN_PART_BYTES)
        parts = []
        try:
            for number, start in enumerate(range(0, upload.size, part_bytes), start=1):
                length = min(part_bytes, upload.size - start)
                sent = self.aws.call(
                    "s3", "upload_part", PartNumber=number, ContentLength=length,
                    Body=Window(upload.stream, start, length), **where,
                )  # fmt: skip
                parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            self.aws.call(
                "s3", "complete_multipart_upload", MultipartUpload={"Parts": parts}, **where
            )
        except ProviderError:
            try:
                self.aws.call("s3", "abort_multipart_upload", **where)
            except ProviderError:
                pass  # best effort: the first failure is the one worth reporting
            raise

    def _stored_file(self, upload: FileUpload, key: str, raw: dict[str, Any]) -> RemoteFile:
        return RemoteFile(
            remote_id=f"s3://{self.bucket}/{key}",
            filename=upload.filename,
            purpose=upload.purpose,
            bytes=upload.size,
            created_at=int(time.time()),
            status="processed",
            raw=raw,
        )

    def find_file(self, gateway_id: str, upload: FileUpload) -> RemoteFile | None:
        """The object an upload with ``gateway_id`` wrote, or None (S3 says
        there is no such object: the upload never finished)."""
        key = f"{self._folder(gateway_id)}/{safe_filename(upload.filename)}"
        try:
            head = self.aws.call("s3", "head_object", Bucket=self.bucket, Key=key)
        except ProviderNotFound:
            return None
        found = dataclasses.replace(upload, size=int(head.get("ContentLength") or upload.size))
        return self._stored_file(found, key, {"bucket": self.bucket, "key": key, "found": True})

    def retrieve_file(self, remote_id: str) -> RemoteFile | None:
        """None: the ledger is authoritative for S3 files."""
        return None

    def delete_file(self, remote_id: str) -> None:
        """Delete the object and the converted copies beside it."""
        bucket, key = parse_s3_uri(remote_id)
        key = original_key(key)
        folder, _, name = key.rpartition("/")
        keys = [key] + [f"{folder}/{fmt}/{name}" for fmt in sorted(CONVERTED_FOLDERS)]
        self.aws.call("s3", "head_object", Bucket=bucket, Key=key)  # a 404 when gone
        self.aws.call(
            "s3",
            "delete_objects",
            Bucket=bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )

    def file_content(self, remote_id: str) -> FileContent:
        """Stream back the bytes the user uploaded."""
        bucket, key = parse_s3_uri(remote_id)
        answer = self.aws.call("s3", "get_object", Bucket=bucket, Key=original_key(key))
        body = answer["Body"]
        return FileContent(
            chunks=body.iter_chunks(DOWNLOAD_CHUNK_BYTES),
            content_type=answer.get("ContentType") or "application/octet-stream",
            length=answer.get("ContentLength"),
            close=body.close,
        )
