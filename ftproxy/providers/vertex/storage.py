"""Cloud Storage objects as the files of a Vertex AI entry: resumable
uploads sent in chunks, deletion of a file and its converted copy, and the
user's original bytes streamed back (``CloudStorageFiles``, a base of
``VertexProvider``)."""

from __future__ import annotations

import re
from typing import Any

import google.auth.exceptions

from ...errors import (
    ProviderError,
    ProviderFailure,
    ProviderNotFound,
    ProviderTimeout,
    ProviderUnavailable,
)
from ..data import FileContent, RemoteFile
from ..uploads import BoundedReader, StreamedBody
from .auth import auth_error
from .dataset import CONVERTED_FOLDERS, OBJECT_ROOT

_UUID_HEX = re.compile(r"^[0-9a-f]{32}$")


def _persisted(range_header: str | None) -> int:
    """How many bytes a resumable session holds, from its 308 ``Range``
    header (``bytes=0-N``; none means nothing yet)."""
    if not range_header or "-" not in range_header:
        return 0
    return int(range_header.rsplit("-", 1)[1]) + 1


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/object`` → (bucket, object); ProviderNotFound otherwise."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket or not name:
        raise ProviderNotFound(f"Not a Cloud Storage file reference: {uri!r}.")
    return bucket, name


def original_object(name: str) -> str:
    """The object holding the user's original bytes for the object ``name``:
    the Gemini copy's sibling for a converted file, else ``name`` itself."""
    parts = name.split("/")
    if (
        len(parts) >= 4
        and parts[-2] in CONVERTED_FOLDERS.values()
        and _UUID_HEX.match(parts[-3])
        and parts[-4] == OBJECT_ROOT
    ):
        return "/".join(parts[:-2] + parts[-1:])
    return name


def safe_filename(filename: str) -> str:
    """The last path segment of ``filename`` with only characters that are
    safe in object names (the real filename stays in the ledger)."""
    base = re.split(r"[\\/]", filename or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).strip("._")[:100]
    return cleaned or "file"


class CloudStorageFiles:
    """The Cloud Storage half of the provider; it supplies ``name``,
    ``max_retries``, ``resumable_chunk_bytes``, the bucket's URLs and
    ``_request``/``_client``."""

    def _upload_object(self, name: str, stream: Any, size: int, content_type: str) -> None:
        """A resumable upload: open the session, then stream the bytes
        (``_send_chunks``; never the whole file in memory)."""
        started = self._request(
            "POST",
            f"{self.gcs_api_base}/upload/storage/v1/b/{self.bucket}/o",
            params={"uploadType": "resumable", "name": name},
            headers={"X-Upload-Content-Type": content_type, "X-Upload-Content-Length": str(size)},
        )
        session_uri = started.headers.get("Location")
        if not session_uri:
            raise ProviderFailure(
                f"Cloud Storage gave the provider '{self.name}' no upload session URI.",
                provider=self.name,
                upstream_status=started.status_code,
            )
        self._send_chunks(session_uri, stream, size, content_type)

    def _send_chunks(self, session_uri: str, stream: Any, size: int, content_type: str) -> None:
        """PUT the bytes to the session: one request when they fit in a
        chunk, else ``resumable_chunk_bytes`` per request with
        ``Content-Range`` (Cloud Storage answers 308 until the last). A chunk
        that fails is resumed from what Cloud Storage says it has, so a
        broken link costs one chunk, not the whole file."""
        chunk = self.resumable_chunk_bytes
        if size <= chunk:
            body = StreamedBody(BoundedReader(stream, size, self.name), size)
            self._request("PUT", session_uri, data=body, headers={"Content-Type": content_type})
            return
        base = stream.tell()
        offset, failures = 0, 0
        while offset < size:
            length = min(chunk, size - offset)
            stream.seek(base + offset)
            body = StreamedBody(BoundedReader(stream, length, self.name), length)
            headers = {
                "Content-Type": content_type,
                "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}",
            }
            try:
                response = self._request(
                    "PUT", session_uri, data=body, headers=headers, accept=(308,)
                )
            except (ProviderFailure, ProviderUnavailable, ProviderTimeout):
                failures += 1
                if failures > self.max_retries:
                    raise
                response = self._request(
                    "PUT",
                    session_uri,
                    headers={"Content-Range": f"bytes */{size}"},
                    accept=(308,),
                )
            if response.status_code != 308:
                return  # 200/201: the object is complete
            persisted = _persisted(response.headers.get("Range"))
            if persisted <= offset:
                failures += 1
                if failures > self.max_retries:
                    raise ProviderFailure(
                        f"Cloud Storage kept no bytes of the chunk at offset {offset} for "
                        f"the provider '{self.name}'.",
                        provider=self.name,
                        upstream_status=308,
                    )
            offset = persisted
        raise ProviderFailure(
            f"Cloud Storage did not finish the upload for the provider '{self.name}'.",
            provider=self.name,
        )

    def _delete_quietly(self, bucket: str, name: str) -> None:
        try:
            self._request("DELETE", self._object_url(bucket, name))
        except ProviderError:
            pass  # best effort: the original error is the one worth reporting

    def retrieve_file(self, remote_id: str) -> RemoteFile | None:
        """None: the ledger is authoritative for Cloud Storage files."""
        return None

    def delete_file(self, remote_id: str) -> None:
        """Delete the object and, for a converted file, the user's original."""
        bucket, name = parse_gs_uri(remote_id)
        names = [name] + ([original_object(name)] if original_object(name) != name else [])
        deleted = False
        for object_name in names:
            try:
                self._request("DELETE", self._object_url(bucket, object_name))
                deleted = True
            except ProviderNotFound:
                continue  # one half already gone: delete the other
        if not deleted:
            raise ProviderNotFound(f"No such file in Cloud Storage: {remote_id}.")

    def file_content(self, remote_id: str) -> FileContent:
        """Stream back the bytes the user uploaded (for a fine-tune file the
        original, not the Gemini copy)."""
        bucket, name = parse_gs_uri(remote_id)
        url = self._object_url(bucket, original_object(name))
        try:
            return self._client().download(url, params={"alt": "media"})
        except google.auth.exceptions.GoogleAuthError as exc:
            raise auth_error(exc, self.name) from exc
