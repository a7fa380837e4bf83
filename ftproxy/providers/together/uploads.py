"""Files up to Together AI, the way its ``together`` SDK sends them.

A file is announced with ``POST /files`` (multipart form: ``purpose``,
``file_name``, ``file_type``, ``checksum``, the SHA-256 of its bytes);
Together answers ``302`` with a signed storage URL (``Location``) and the
new file's id (``X-Together-File-Id``), or ``409`` with the ``file_id`` of
the same bytes uploaded before. The bytes are ``PUT`` to the signed URL
(without the gateway's credentials: it is another host), then
``POST /files/{id}/preprocess`` makes it a file.

A file larger than ``MULTIPART_THRESHOLD_BYTES`` goes up in parts:
``POST /files/multipart/initiate`` answers a signed URL per part, each part
is ``PUT`` (its ``ETag`` kept), and ``POST /files/multipart/complete``
makes the file (``/multipart/abort`` when a part fails).
"""

from __future__ import annotations

import hashlib
import math
from typing import IO, Any

from requests_toolbelt import MultipartEncoder

from ...errors import ProviderError, ProviderFailure
from ..http import HttpClient
from ..uploads import part_body

#: The together SDK's constants: multipart above 5 GiB, parts of about
#: 250 MiB, at most 250 of them, none under 5 MiB.
MULTIPART_THRESHOLD_BYTES = 5 * 2**30
TARGET_PART_BYTES = 250 * 2**20
MAX_PARTS = 250
MIN_PART_BYTES = 5 * 2**20
HASH_CHUNK = 1024 * 1024


def file_type(filename: str) -> str:
    """Together's ``file_type`` for a file name (the gateway's fine-tune
    files are JSONL; Parquet keeps its own)."""
    return "parquet" if filename.lower().endswith(".parquet") else "jsonl"


def sha256_of(stream: IO[bytes]) -> str:
    """The SHA-256 (hex) of the whole stream, read in chunks; rewound after."""
    stream.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(HASH_CHUNK), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def plan_parts(
    size: int, target: int = TARGET_PART_BYTES, minimum: int = MIN_PART_BYTES
) -> tuple[int, int]:
    """(part size, number of parts) for ``size`` bytes, as the SDK plans them."""
    if size <= target:
        return size, 1
    count = min(MAX_PARTS, math.ceil(size / target))
    part = math.ceil(size / count)
    if part < minimum:
        part = minimum
        count = math.ceil(size / part)
    return part, count


class TogetherUploader:
    """Sends one file to Together: ``api`` speaks to Together (with the
    key), ``storage`` to the signed URLs (without)."""

    def __init__(self, api: HttpClient, storage: HttpClient, provider: str):
        self.api = api
        self.storage = storage
        self.provider = provider

    def _fail(self, message: str, body: Any = None) -> ProviderFailure:
        return ProviderFailure(
            f"The provider '{self.provider}' {message}", provider=self.provider, body=body
        )

    def upload(
        self,
        stream: IO[bytes],
        size: int,
        filename: str,
        purpose: str,
        *,
        threshold: int = MULTIPART_THRESHOLD_BYTES,
        part_target: int = TARGET_PART_BYTES,
        part_minimum: int = MIN_PART_BYTES,
    ) -> tuple[dict[str, Any] | None, str]:
        """Upload; return (the file answer, or None when Together already
        had these bytes, with) the file id."""
        checksum = sha256_of(stream)
        if size > threshold:
            part_size, count = plan_parts(size, part_target, part_minimum)
            return self._multipart(stream, size, filename, purpose, checksum, part_size, count)
        fields = [
            ("purpose", purpose),
            ("file_name", filename),
            ("file_type", file_type(filename)),
            ("checksum", checksum),
        ]
        encoder = MultipartEncoder(fields=fields)
        response = self.api.request(
            "POST",
            "files",
            data=encoder.to_string(),
            headers={"Content-Type": encoder.content_type},
            accept=(302, 409),
        )
        if response.status_code == 409:
            return None, self._existing(response)
        location = response.headers.get("Location")
        file_id = response.headers.get("X-Together-File-Id")
        if response.status_code != 302 or not location or not file_id:
            raise self._fail("did not answer with a signed upload URL and a file id.")
        self.storage.request(
            "PUT",
            location,
            data=part_body(stream, 0, size, self.provider),
            headers={"Content-Type": "application/octet-stream"},
        )
        return self.api.json("POST", f"files/{file_id}/preprocess"), file_id

    def _existing(self, response: Any) -> str:
        try:
            file_id = response.json().get("file_id")
        except (ValueError, AttributeError):
            file_id = None
        if not isinstance(file_id, str) or not file_id:
            raise self._fail("refused the upload as a duplicate without naming the file.")
        return file_id

    def _multipart(self, stream, size, filename, purpose, checksum, part_size, count):
        response = self.api.request(
            "POST",
            "files/multipart/initiate",
            json_body={
                "file_name": filename,
                "file_size": size,
                "num_parts": count,
                "purpose": purpose,
                "file_type": file_type(filename),
                "checksum": checksum,
            },
            accept=(409,),
        )
        if response.status_code == 409:
            return None, self._existing(response)
        info = response.json() if response.content else {}
        upload_id, file_id = info.get("upload_id"), info.get("file_id")
        parts = info.get("parts")
        if not upload_id or not file_id or not isinstance(parts, list) or len(parts) != count:
            raise self._fail("answered a multipart upload without its id, file id or parts.", info)
        try:
            done = [self._part(stream, part, part_size, size) for part in parts]
            answer = self.api.json(
                "POST",
                "files/multipart/complete",
                json_body={"upload_id": upload_id, "file_id": file_id, "parts": done},
            )
        except ProviderError:
            self._abort(upload_id, file_id)
            raise
        file = answer.get("file", answer) if isinstance(answer, dict) else answer
        return file, file_id

    def _part(self, stream, part: dict[str, Any], part_size: int, size: int) -> dict[str, Any]:
        number = int(part.get("PartNumber", part.get("part_number", 0)) or 0)
        url = part.get("URL", part.get("UploadURL"))
        if number < 1 or not url:
            raise self._fail("answered a part without its number or URL.")
        start = (number - 1) * part_size
        length = max(0, min(part_size, size - start))
        headers = {str(k): str(v) for k, v in (part.get("Headers") or {}).items()}
        response = self.storage.request(
            "PUT", url, data=part_body(stream, start, length, self.provider), headers=headers
        )
        etag = str(response.headers.get("ETag", "")).strip('"')
        if not etag:
            raise self._fail(f"stored part {number} without an ETag.")
        return {"part_number": number, "etag": etag}

    def _abort(self, upload_id: str, file_id: str) -> None:
        try:
            self.api.request(
                "POST",
                "files/multipart/abort",
                json_body={"upload_id": upload_id, "file_id": file_id},
            )
        except ProviderError:
            pass  # the failure that led here is the one to report
