"""OpenAI: files and fine-tuning jobs over ``https://api.openai.com/v1``.

Also the base of the Azure provider, whose v1 API is OpenAI's: the URL,
the auth header, the request body for a job and the normalisation of answers
are separate steps a subclass can replace (see ``azure.py``).
"""

from __future__ import annotations

import base64
import binascii
from typing import IO, Any
from urllib.parse import quote

from ...errors import EntryError, ProviderFailure, ProviderNotSupported
from ..base import Provider
from ..data import (
    FileContent,
    FileUpload,
    JobCreate,
    Page,
    RemoteFile,
    RemoteJob,
    RemoteUpload,
    UploadCreate,
)
from ..gateway_id import GATEWAY_ID_KEY, gateway_id_of, with_gateway_id
from ..http import HttpClient
from ..uploads import multipart_upload
from .answers import OpenAIAnswers
from .limits import EXAMPLE_TOKEN_LIMITS, MIN_TRAINING_EXAMPLES
from .shutdowns import OPENAI_SHUTDOWNS

DEFAULT_API_BASE = "https://api.openai.com/v1"
#: Every field of JobCreate, in the order OpenAI documents them; each one
#: that is set is sent (nothing is dropped on the way).
JOB_FIELDS = (
    "model",
    "training_file",
    "validation_file",
    "hyperparameters",
    "method",
    "suffix",
    "seed",
    "integrations",
)


class OpenAIProvider(OpenAIAnswers, Provider):
    """OpenAI's Files and Fine-tuning API, forwarded as is.

    Subclasses change the transport with ``api_base``, ``auth_headers`` and
    ``query_params``; what is sent with ``upload_fields`` and ``job_body``;
    and how answers read with the ``normalise_*`` methods.
    """

    kind = "openai"
    training_methods = frozenset({"supervised", "dpo", "reinforcement"})
    model_family = "openai"
    example_models = ("gpt-4.1-mini-2025-04-14",)
    can_delete_models = True
    model_shutdowns = OPENAI_SHUTDOWNS
    min_training_examples = MIN_TRAINING_EXAMPLES
    example_token_limits = EXAMPLE_TOKEN_LIMITS
    can_pause = True
    continues_training = True  # from an ``ft:…`` model or checkpoint
    forwards_uploads = True
    streams_uploads = True  # one multipart POST, streamed (``uploads.multipart_upload``)
    #: ``webhook_secret``: OpenAI's signing secret for ``POST /v1/webhooks/<name>``.
    options = frozenset({"api_key", "api_base", "organization", "project", "webhook_secret"})
    required_options = frozenset({"api_key"})

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """OpenAI's webhook signing secret: a non-empty string; a ``whsec_``
        one must be base64 (never echoed)."""
        if "webhook_secret" not in entry:
            return
        value = entry["webhook_secret"]
        if not isinstance(value, str) or not value:
            raise EntryError("must be a non-empty string", key="webhook_secret")
        if value.startswith("whsec_"):
            try:
                base64.b64decode(value[len("whsec_") :], validate=True)
            except (binascii.Error, ValueError):
                raise EntryError(
                    "'whsec_' must be followed by base64", key="webhook_secret"
                ) from None

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.api_key: str | None = entry.get("api_key")
        self.client = HttpClient(
            self.name,
            self.api_base(),
            headers={"Accept": "application/json", **self.auth_headers()},
            params=self.query_params(),
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    # ---- transport (overridden by subclasses) ---------------------------
    def api_base(self) -> str:
        """The URL that the OpenAI paths (``files``, ``fine_tuning/jobs``) follow."""
        return self.entry.get("api_base") or DEFAULT_API_BASE

    def auth_headers(self) -> dict[str, str]:
        """Headers sent with every request: credentials and account scoping."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.entry.get("organization"):
            headers["OpenAI-Organization"] = self.entry["organization"]
        if self.entry.get("project"):
            headers["OpenAI-Project"] = self.entry["project"]
        return headers

    def query_params(self) -> dict[str, str]:
        """Query parameters sent with every request."""
        return {}

    # ---- request shaping (overridden by subclasses) ---------------------
    def upload_fields(self, upload: FileUpload) -> list[tuple[str, str]]:
        """The non-file form fields of an upload, OpenAI SDK style:
        ``expires_after`` is flattened to bracketed keys."""
        fields = [("purpose", upload.purpose)]
        for key, value in (upload.expires_after or {}).items():
            if value is not None:
                fields.append((f"expires_after[{key}]", str(value)))
        return fields

    #: Whether jobs carry the gateway's id in ``metadata`` (see ``gateway_id``).
    tags_jobs = True

    def job_body(self, job: JobCreate) -> dict[str, Any]:
        """The JSON body of a job creation: every field that is set, and the
        metadata that ``upstream_metadata`` sends."""
        if job.training_type and not self.accepts_training_type:
            raise ProviderNotSupported(
                f"trainingType (training tiers) is an Azure OpenAI setting; the provider "
                f"'{self.name}' ({self.kind}) has none.",
                provider=self.name,
                param="trainingType",
            )
        body = {name: getattr(job, name) for name in JOB_FIELDS if getattr(job, name) is not None}
        metadata = self.upstream_metadata(job)
        if metadata is not None:
            body["metadata"] = metadata
        return body

    def upstream_metadata(self, job: JobCreate) -> dict[str, str] | None:
        """The ``metadata`` sent upstream with a job, or None to send none:
        the user's, with the gateway's id added, where the upstream keeps job
        metadata (``tags_jobs``).

        The one place that decides it: the gateway keeps the job's metadata
        in its ledger whatever is sent, and answers with the ledger's copy."""
        if not self.tags_jobs:
            return None
        return with_gateway_id(job.metadata, job.gateway_id)

    # ---- answer normalisation (overridden by subclasses) ----------------
    # ---- files ----------------------------------------------------------
    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """``POST files`` as multipart (``purpose``, ``expires_after[...]``,
        ``file``), the file streamed from ``upload.stream`` in chunks."""
        body, content_type = multipart_upload(
            self.upload_fields(upload),
            "file",
            upload.filename,
            upload.stream,
            upload.size,
            upload.content_type,
            provider=self.name,
        )
        data = self.client.json("POST", "files", data=body, headers={"Content-Type": content_type})
        return self.to_file(data)

    def check_upload(self, upload: FileUpload) -> None:
        """The form fields are what a subclass may refuse (Azure's dated
        versions: ``expires_after``)."""
        self.upload_fields(upload)

    def retrieve_file(self, remote_id: str) -> RemoteFile:
        """``GET files/{id}``."""
        return self.to_file(self.client.json("GET", f"files/{_segment(remote_id)}"))

    def delete_file(self, remote_id: str) -> None:
        """``DELETE files/{id}``; an answer of ``deleted: false`` is a failure."""
        data = self.client.json("DELETE", f"files/{_segment(remote_id)}")
        if isinstance(data, dict) and data.get("deleted") is False:
            raise ProviderFailure(
                f"The provider '{self.name}' did not delete file {remote_id}.",
                provider=self.name,
                body=data,
            )

    def file_content(self, remote_id: str) -> FileContent:
        """``GET files/{id}/content``, streamed back in 64 KiB chunks."""
        # The SDK asks for application/binary; JSON would only fit an error.
        return self.client.download(
            f"files/{_segment(remote_id)}/content", headers={"Accept": "application/binary"}
        )

    # ---- uploads -----------------------------------------------------------
    def _check_uploads(self) -> None:
        if not self.forwards_uploads:
            raise self._unsupported("Forwarding uploads")

    def create_upload(self, upload: UploadCreate) -> RemoteUpload:
        """``POST uploads`` with filename, purpose, bytes, mime_type and
        ``expires_after`` when set."""
        self._check_uploads()
        body: dict[str, Any] = {
            "filename": upload.filename,
            "purpose": upload.purpose,
            "bytes": upload.bytes,
            "mime_type": upload.mime_type,
        }
        if upload.expires_after:
            body["expires_after"] = upload.expires_after
        return self.to_upload(self.client.json("POST", "uploads", json_body=body))

    def add_upload_part(self, remote_id: str, stream: IO[bytes], size: int) -> str:
        """``POST uploads/{id}/parts``, multipart ``data`` streamed from ``stream``."""
        self._check_uploads()
        body, content_type = multipart_upload([], "data", "blob", stream, size, provider=self.name)
        data = self.client.json(
            "POST",
            f"uploads/{_segment(remote_id)}/parts",
            data=body,
            headers={"Content-Type": content_type},
        )
        return self._object(data, "upload part")["id"]

    def complete_upload(self, remote_id: str, part_ids: list[str], md5: str | None) -> RemoteUpload:
        """``POST uploads/{id}/complete`` with ``part_ids`` (and ``md5``)."""
        self._check_uploads()
        body: dict[str, Any] = {"part_ids": part_ids}
        if md5:
            body["md5"] = md5
        return self.to_upload(
            self.client.json("POST", f"uploads/{_segment(remote_id)}/complete", json_body=body)
        )

    def cancel_upload(self, remote_id: str) -> RemoteUpload:
        """``POST uploads/{id}/cancel``."""
        self._check_uploads()
        return self.to_upload(self.client.json("POST", f"uploads/{_segment(remote_id)}/cancel"))

    # ---- fine-tuning jobs -------------------------------------------------
    def create_job(self, job: JobCreate) -> RemoteJob:
        """``POST fine_tuning/jobs`` with every field of ``job`` that is set."""
        return self.to_job(
            self.client.json("POST", "fine_tuning/jobs", json_body=self.job_body(job))
        )

    def check_job(self, job: JobCreate) -> None:
        """What ``job_body`` refuses (a dated Azure version's narrower API)."""
        self.job_body(job)

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """``GET fine_tuning/jobs?metadata[ftproxy_job_id]=…``. An empty list
        proves there is none; an answer that ignored the filter (jobs, none
        of them ours) proves nothing."""
        if not self.tags_jobs:
            raise self._unsupported("Looking up jobs by the gateway's id")
        data = self.client.json(
            "GET",
            "fine_tuning/jobs",
            params={f"metadata[{GATEWAY_ID_KEY}]": gateway_id, "limit": 10},
        )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderFailure(
                f"The provider '{self.name}' answered with a malformed job list.",
                provider=self.name,
            )
        for item in items:
            if isinstance(item, dict) and gateway_id_of(item.get("metadata")) == gateway_id:
                return self.to_job(item)
        if items:
            raise self._unsupported("Filtering jobs by metadata")
        return None

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """``GET fine_tuning/jobs/{id}``."""
        return self.to_job(self.client.json("GET", _job_path(remote_id)))

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """``POST fine_tuning/jobs/{id}/cancel``."""
        return self.to_job(self.client.json("POST", _job_path(remote_id, "cancel")))

    def pause_job(self, remote_id: str) -> RemoteJob:
        """``POST fine_tuning/jobs/{id}/pause``."""
        return self.to_job(self.client.json("POST", _job_path(remote_id, "pause")))

    def resume_job(self, remote_id: str) -> RemoteJob:
        """``POST fine_tuning/jobs/{id}/resume``."""
        return self.to_job(self.client.json("POST", _job_path(remote_id, "resume")))

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page:
        """``GET fine_tuning/jobs/{id}/events`` with ``after``/``limit``, newest first."""
        data = self.client.json(
            "GET", _job_path(remote_id, "events"), params=_page_params(after, limit)
        )
        return _page(data, self.to_event)

    def list_job_checkpoints(self, remote_id: str, after: str | None, limit: int) -> Page:
        """``GET fine_tuning/jobs/{id}/checkpoints`` with ``after``/``limit``, newest first."""
        data = self.client.json(
            "GET", _job_path(remote_id, "checkpoints"), params=_page_params(after, limit)
        )
        return _page(data, self.to_checkpoint)

    # ---- fine-tuned models --------------------------------------------------
    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """``DELETE models/{model}`` (OpenAI's API reference, "Delete a
        fine-tuned model"; Azure's v1 API has the same route); an answer of
        ``deleted: false`` is a failure."""
        data = self.client.json("DELETE", f"models/{_segment(model)}")
        if isinstance(data, dict) and data.get("deleted") is False:
            raise ProviderFailure(
                f"The provider '{self.name}' did not delete model {model}.",
                provider=self.name,
                body=data,
            )


def _segment(remote_id: str) -> str:
    """A remote id as one URL path segment (ids are opaque to us)."""
    return quote(remote_id, safe="")


def _job_path(remote_id: str, action: str = "") -> str:
    path = f"fine_tuning/jobs/{_segment(remote_id)}"
    return f"{path}/{action}" if action else path


def _page_params(after: str | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if after:
        params["after"] = after
    return params


def _page(data: Any, convert: Any) -> Page:
    """A list envelope ``{data, has_more}`` as a Page of converted items."""
    if not isinstance(data, dict):
        data = {}
    items = data.get("data") if isinstance(data.get("data"), list) else []
    return Page(items=[convert(item) for item in items], has_more=bool(data.get("has_more")))
