"""Fireworks AI: datasets, supervised fine-tuning jobs and DPO jobs of one
account, over ``https://api.fireworks.ai/v1/accounts/{account_id}/``.

Paths and wire shapes are those of the ``fireworks-ai`` Python SDK
(``resources/datasets.py``, ``resources/supervised_fine_tuning_jobs.py``,
``resources/dpo_jobs.py``) and Fireworks' REST reference. A file is a
dataset: created, its JSONL uploaded (``:upload`` up to 150 MB; above, a
signed URL from ``:getUploadEndpoint`` and ``:validateUpload``). Answers are read in
``answers``; the job body is built and checked in ``job_body``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from ...errors import EntryError, ProviderFailure, ProviderInputError, ProviderNotFound
from ..base import Provider
from ..data import FileContent, FileUpload, JobCreate, Page, RemoteFile, RemoteJob
from ..http import HttpClient
from ..uploads import multipart_upload, part_body
from .answers import to_dpo_job, to_file, to_job
from .job_body import (
    EXTRA_HYPERPARAMETERS,
    dpo_job_body,
    job_kind,
    own_model_prefix,
    sft_job_body,
)

DEFAULT_API_BASE = "https://api.fireworks.ai"
#: ``:upload`` takes files up to 150 MB (Fireworks' REST reference); larger
#: ones go to a signed URL.
DIRECT_UPLOAD_BYTES = 150 * 1000 * 1000
PURPOSE = "fine-tune"
#: ``method.type`` → (collection, id query parameter, body builder, reader).
JOB_KINDS = {
    "supervised": ("supervisedFineTuningJobs", "supervisedFineTuningJobId", sft_job_body, to_job),
    "dpo": ("dpoJobs", "dpoJobId", dpo_job_body, to_dpo_job),
}
#: An account id is one path segment of the API's URLs.
_ACCOUNT = re.compile(r"^[^/\s?#]+$")


def _segment(value: str) -> str:
    return quote(value, safe="")


class FireworksProvider(Provider):
    """Fireworks AI's datasets, supervised fine-tuning and DPO, in OpenAI's
    words.

    Files are datasets of the entry's account; the gateway's own ids name
    them (and its jobs), so a create cut short is found again by id. A job
    id names a supervised job or a DPO job (two collections): it is looked
    for among the supervised ones first, then among the DPO ones.
    """

    kind = "fireworks"
    training_methods = frozenset({"supervised", "dpo"})
    model_family = "fireworks"
    example_models = ("accounts/fireworks/models/llama-v3p1-8b-instruct",)
    extra_hyperparameters = frozenset(EXTRA_HYPERPARAMETERS)
    tuning_modes = frozenset({"lora"})
    continues_training = True  # from a LoRA of the account: ``warmStartFrom``
    lists_events = False  # no event feed: the gateway's status history serves
    lists_checkpoints = False
    result_files_are_files = False
    options = frozenset({"api_key", "account_id", "api_base", "wandb_api_key"})
    required_options = frozenset({"api_key", "account_id"})

    #: Files above this size go to a signed URL instead of ``:upload``.
    direct_upload_bytes: ClassVar[int] = DIRECT_UPLOAD_BYTES

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """``account_id``: a Fireworks account id; ``api_base``: an http(s)
        URL; the keys: non-empty strings (never echoed)."""
        account = entry.get("account_id")
        if not isinstance(account, str) or not _ACCOUNT.match(account):
            raise EntryError(
                "must be a Fireworks account id (one URL path segment)", key="account_id"
            )
        base = entry.get("api_base")
        if base is not None:
            parts = urlsplit(base) if isinstance(base, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                raise EntryError("must be an http(s) URL", key="api_base")
        for key in ("api_key", "wandb_api_key"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key]):
                raise EntryError("must be a non-empty string", key=key)

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.account: str = entry.get("account_id") or ""
        base = (entry.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        self.client = HttpClient(
            self.name,
            f"{base}/v1/accounts/{_segment(self.account)}",
            headers={
                "Accept": "application/json",
                "Authorization": f"Bearer {entry.get('api_key')}",
            },
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        if entry.get("wandb_api_key"):
            self.client.secrets = (*self.client.secrets, entry["wandb_api_key"])
        # Signed storage URLs are another host: no credentials go there.
        self.storage = HttpClient(self.name, "", timeout=self.timeout, max_retries=self.max_retries)

    # ---- files (datasets) ----------------------------------------------
    def check_upload(self, upload: FileUpload) -> None:
        """Fireworks datasets are fine-tuning data; they do not expire."""
        if upload.purpose != PURPOSE:
            raise ProviderInputError(
                f"purpose {upload.purpose!r} is not supported by Fireworks; use 'fine-tune'.",
                provider=self.name,
                param="purpose",
            )
        if upload.expires_after:
            raise ProviderInputError(
                "expires_after is not supported by Fireworks (its datasets do not expire).",
                provider=self.name,
                param="expires_after",
            )

    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Create the dataset (named by the gateway's id), upload the JSONL
        to it, and answer the dataset."""
        self.check_upload(upload)
        created = self.client.json(
            "POST",
            "datasets",
            json_body={
                "datasetId": upload.gateway_id or f"file-{secrets.token_hex(12)}",
                "dataset": {"displayName": upload.filename, "userUploaded": {}, "format": "CHAT"},
            },
        )
        # The dataset as Fireworks named it: every later call uses its name.
        path = f"datasets/{_segment(to_file(created, self.name).remote_id)}"
        if upload.size <= self.direct_upload_bytes:
            body, content_type = multipart_upload(
                [], "file", upload.filename, upload.stream, upload.size, provider=self.name
            )
            self.client.json(
                "POST", f"{path}:upload", data=body, headers={"Content-Type": content_type}
            )
        else:
            self._upload_signed(path, upload)
        return to_file(self.client.json("GET", path), self.name, size=upload.size)

    def _upload_signed(self, path: str, upload: FileUpload) -> None:
        answer = self.client.json(
            "POST",
            f"{path}:getUploadEndpoint",
            json_body={"filenameToSize": {upload.filename: str(upload.size)}},
        )
        urls = answer.get("filenameToSignedUrls") if isinstance(answer, dict) else None
        url = urls.get(upload.filename) if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise ProviderFailure(
                f"The provider '{self.name}' answered no signed upload URL.", provider=self.name
            )
        self.storage.request(
            "PUT",
            url,
            data=part_body(upload.stream, 0, upload.size, self.name),
            headers={"Content-Type": "application/octet-stream"},
        )
        self.client.json("POST", f"{path}:validateUpload", json_body={})

    def find_file(self, gateway_id: str, upload: FileUpload) -> RemoteFile | None:
        """The dataset named by the gateway's id, or None when there is none."""
        try:
            data = self.client.json("GET", f"datasets/{_segment(gateway_id)}")
        except ProviderNotFound:
            return None
        return to_file(data, self.name, size=upload.size)

    def retrieve_file(self, remote_id: str) -> RemoteFile:
        """``GET datasets/{id}``."""
        return to_file(self.client.json("GET", f"datasets/{_segment(remote_id)}"), self.name)

    def delete_file(self, remote_id: str) -> None:
        """``DELETE datasets/{id}``."""
        self.client.json("DELETE", f"datasets/{_segment(remote_id)}")

    def file_content(self, remote_id: str) -> FileContent:
        """The dataset's file, from the signed URL of ``:getDownloadEndpoint``."""
        answer = self.client.json("GET", f"datasets/{_segment(remote_id)}:getDownloadEndpoint")
        urls = answer.get("filenameToSignedUrls") if isinstance(answer, dict) else None
        if not isinstance(urls, dict) or len(urls) != 1:
            raise ProviderFailure(
                f"The provider '{self.name}' answered {len(urls or {})} download URLs for "
                f"dataset {remote_id}, not one.",
                provider=self.name,
            )
        return self.storage.download(next(iter(urls.values())))

    # ---- jobs -------------------------------------------------------------
    def tuned_model_reference(self, model: str) -> str | None:
        """A model of the entry's own account (a tuned LoRA) names the job
        that produced it as its ``outputModel``."""
        if isinstance(model, str) and model.startswith(own_model_prefix(self.account)):
            return model
        return None

    def job_body(self, job: JobCreate) -> dict[str, Any]:
        """The ``POST supervisedFineTuningJobs`` or ``POST dpoJobs`` body
        (see ``job_body``)."""
        try:
            return JOB_KINDS[job_kind(job)][2](job, self.account, self.entry)
        except ProviderInputError as exc:
            exc.provider = self.name
            raise

    def check_job(self, job: JobCreate) -> None:
        """What ``create_job`` would refuse, without a call."""
        self.job_body(job)

    def create_job(self, job: JobCreate) -> RemoteJob:
        """``POST supervisedFineTuningJobs`` (or ``dpoJobs`` for DPO), the
        job named by the gateway's id."""
        body = self.job_body(job)
        collection, id_param, _, read = JOB_KINDS[job_kind(job)]
        params = {id_param: job.gateway_id} if job.gateway_id else None
        data = self.client.json("POST", collection, json_body=body, params=params)
        return read(data, self.name)

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """The job named by the gateway's id, or None when there is none."""
        try:
            return self.retrieve_job(gateway_id)
        except ProviderNotFound:
            return None

    def _job_call(self, remote_id: str, call) -> RemoteJob:
        """``call(path, read)`` on the supervised job of that id, or on the
        DPO job when there is no supervised one (a 404 when neither)."""
        sft, dpo = JOB_KINDS["supervised"], JOB_KINDS["dpo"]
        try:
            return call(f"{sft[0]}/{_segment(remote_id)}", sft[3])
        except ProviderNotFound:
            return call(f"{dpo[0]}/{_segment(remote_id)}", dpo[3])

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """``GET supervisedFineTuningJobs/{id}``, else ``GET dpoJobs/{id}``."""
        return self._job_call(
            remote_id, lambda path, read: read(self.client.json("GET", path), self.name)
        )

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """``POST supervisedFineTuningJobs/{id}:cancel`` (else
        ``dpoJobs/{id}:cancel``), then the job as it is."""

        def cancel(path: str, read) -> RemoteJob:
            self.client.json("POST", f"{path}:cancel", json_body={})
            return read(self.client.json("GET", path), self.name)

        return self._job_call(remote_id, cancel)

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page | None:
        """Fireworks has no event feed: the gateway's status history serves."""
        return None
