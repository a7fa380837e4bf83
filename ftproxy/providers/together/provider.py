"""Together AI: files and fine-tuning jobs over ``https://api.together.xyz/v1``.

Paths and wire shapes are those of the ``together`` Python SDK
(``resources/finetune.py``, ``lib/resources/files.py``): ``files`` (signed
URL uploads, see ``uploads``), ``fine-tunes`` (create, retrieve, cancel,
``/events``, ``/checkpoints``). Answers are read in ``answers``; the
create body is built and checked in ``job_body``.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from ...errors import EntryError, ProviderFailure, ProviderInputError
from ..base import Provider
from ..data import FileContent, FileUpload, JobCreate, Page, RemoteFile, RemoteJob
from ..http import HttpClient
from .answers import to_checkpoint, to_event, to_file, to_job
from .job_body import CHECKPOINT, EXTRA_HYPERPARAMETERS, fine_tune_body
from .uploads import (
    MIN_PART_BYTES,
    MULTIPART_THRESHOLD_BYTES,
    TARGET_PART_BYTES,
    TogetherUploader,
)

DEFAULT_API_BASE = "https://api.together.xyz/v1"
#: The one file purpose Together's fine-tuning reads.
PURPOSE = "fine-tune"


def _segment(remote_id: str) -> str:
    return quote(remote_id, safe="")


def _page(items: list[Any], after: str | None, limit: int) -> Page:
    """A page of ``items`` (already newest first) after the item ``after``."""
    start = 0
    if after:
        ids = [item.id for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chosen = items[start : start + limit]
    return Page(items=chosen, has_more=start + limit < len(items))


class TogetherProvider(Provider):
    """Together AI's Files and Fine-tuning API, in OpenAI's words.

    Jobs train open-weight models with LoRA (Together's default) or in full,
    supervised or DPO; ``model`` naming a job (``ft-…``) or one of its
    checkpoints (``ft-…:<step>``) continues training from it. Together
    keeps no job metadata: the gateway's ledger holds it, and a create cut
    short is flagged for a person rather than found again.
    """

    kind = "together"
    training_methods = frozenset({"supervised", "dpo"})
    model_family = "together"
    example_models = (
        "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "Qwen/Qwen3-8B",
    )
    extra_hyperparameters = frozenset(EXTRA_HYPERPARAMETERS)
    tuning_modes = frozenset({"lora", "full"})
    continues_training = True  # from a job or checkpoint: ``from_checkpoint``
    # Together keeps the tuned weights for download (``finetune/download``),
    # not as files of its Files API.
    result_files_are_files = False
    options = frozenset({"api_key", "api_base", "wandb_api_key", "wandb_base_url"})
    required_options = frozenset({"api_key"})

    #: Files above this size go up in parts (the together SDK's threshold).
    multipart_threshold_bytes: ClassVar[int] = MULTIPART_THRESHOLD_BYTES
    #: The size of one part of a multipart upload.
    part_target_bytes: ClassVar[int] = TARGET_PART_BYTES
    #: The smallest part (object storage refuses smaller ones but the last).
    part_min_bytes: ClassVar[int] = MIN_PART_BYTES

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """``api_base`` and ``wandb_base_url``: http(s) URLs; the keys:
        non-empty strings (never echoed)."""
        for key in ("api_base", "wandb_base_url"):
            value = entry.get(key)
            if value is None:
                continue
            parts = urlsplit(value) if isinstance(value, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                raise EntryError("must be an http(s) URL", key=key)
        for key in ("api_key", "wandb_api_key"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key]):
                raise EntryError("must be a non-empty string", key=key)

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.client = HttpClient(
            self.name,
            entry.get("api_base") or DEFAULT_API_BASE,
            headers={
                "Accept": "application/json",
                "Authorization": f"Bearer {entry.get('api_key')}",
            },
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        if entry.get("wandb_api_key"):
            # Sent in job bodies: never to be quoted back to anyone.
            self.client.secrets = (*self.client.secrets, entry["wandb_api_key"])
        # Signed storage URLs are another host: no credentials go there.
        self.storage = HttpClient(self.name, "", timeout=self.timeout, max_retries=self.max_retries)
        self.uploader = TogetherUploader(self.client, self.storage, self.name)

    # ---- files ----------------------------------------------------------
    def check_upload(self, upload: FileUpload) -> None:
        """Together's fine-tuning reads ``fine-tune`` files; they never expire."""
        if upload.purpose != PURPOSE:
            raise ProviderInputError(
                f"purpose {upload.purpose!r} is not supported by Together AI; use 'fine-tune'.",
                provider=self.name,
                param="purpose",
            )
        if upload.expires_after:
            raise ProviderInputError(
                "expires_after is not supported by Together AI (its files do not expire).",
                provider=self.name,
                param="expires_after",
            )

    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Announce the file, PUT its bytes to the signed URL (in parts above
        ``multipart_threshold_bytes``), and have Together process it."""
        self.check_upload(upload)
        answer, file_id = self.uploader.upload(
            upload.stream,
            upload.size,
            upload.filename,
            upload.purpose,
            threshold=self.multipart_threshold_bytes,
            part_target=self.part_target_bytes,
            part_minimum=self.part_min_bytes,
        )
        if answer is None:  # the same bytes were uploaded before: that file
            answer = self.client.json("GET", f"files/{_segment(file_id)}")
        return to_file(answer, self.name, size=upload.size)

    def retrieve_file(self, remote_id: str) -> RemoteFile:
        """``GET files/{id}``."""
        return to_file(self.client.json("GET", f"files/{_segment(remote_id)}"), self.name)

    def delete_file(self, remote_id: str) -> None:
        """``DELETE files/{id}``; ``deleted: false`` is a failure."""
        data = self.client.json("DELETE", f"files/{_segment(remote_id)}")
        if isinstance(data, dict) and data.get("deleted") is False:
            raise ProviderFailure(
                f"The provider '{self.name}' did not delete file {remote_id}.",
                provider=self.name,
                body=data,
            )

    def file_content(self, remote_id: str) -> FileContent:
        """``GET files/{id}/content``, streamed."""
        return self.client.download(
            f"files/{_segment(remote_id)}/content", headers={"Accept": "application/octet-stream"}
        )

    # ---- fine-tuning jobs -------------------------------------------------
    def tuned_model_reference(self, model: str) -> str | None:
        """A job id (``ft-…``) or checkpoint (``ft-…:<step>``) names the job
        it continues from by its id, which that job's payload holds."""
        if isinstance(model, str) and CHECKPOINT.match(model):
            return model.split(":", 1)[0]
        return None

    def job_body(self, job: JobCreate) -> dict[str, Any]:
        """The ``POST fine-tunes`` body (see ``job_body``)."""
        return fine_tune_body(job, self.entry)

    def check_job(self, job: JobCreate) -> None:
        """What ``create_job`` would refuse, without a call."""
        self._body(job)

    def _body(self, job: JobCreate) -> dict[str, Any]:
        try:
            return self.job_body(job)
        except ProviderInputError as exc:
            exc.provider = self.name
            raise

    def create_job(self, job: JobCreate) -> RemoteJob:
        """``POST fine-tunes``."""
        return to_job(self.client.json("POST", "fine-tunes", json_body=self._body(job)), self.name)

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """``GET fine-tunes/{id}``."""
        return to_job(self.client.json("GET", f"fine-tunes/{_segment(remote_id)}"), self.name)

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """``POST fine-tunes/{id}/cancel``."""
        path = f"fine-tunes/{_segment(remote_id)}/cancel"
        return to_job(self.client.json("POST", path), self.name)

    def _listed(self, remote_id: str, what: str) -> list[dict[str, Any]]:
        data = self.client.json("GET", f"fine-tunes/{_segment(remote_id)}/{what}")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ProviderFailure(
                f"The provider '{self.name}' answered with a malformed {what} list.",
                provider=self.name,
                body=data,
            )
        return [item for item in items if isinstance(item, dict)]

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page:
        """``GET fine-tunes/{id}/events`` (all of them, unpaged upstream),
        newest first, paged here by event id."""
        events = [to_event(remote_id, item) for item in self._listed(remote_id, "events")]
        events.sort(key=lambda event: event.created_at, reverse=True)
        return _page(events, after, limit)

    def list_job_checkpoints(self, remote_id: str, after: str | None, limit: int) -> Page:
        """``GET fine-tunes/{id}/checkpoints``, newest (highest step) first."""
        found = [to_checkpoint(remote_id, item) for item in self._listed(remote_id, "checkpoints")]
        found.sort(
            key=lambda checkpoint: (checkpoint.step_number, checkpoint.created_at), reverse=True
        )
        return _page(found, after, limit)
