"""Vertex AI: Gemini and open-model tuning, with the training data in Cloud Storage.

Files are Cloud Storage objects: for ``purpose=fine-tune`` the user's bytes
are kept as uploaded (so ``file_content`` is byte-exact) and a Gemini-format
copy is written beside them for Vertex to train on. Jobs are ``tuningJobs``
resources. Both kinds of remote id contain ``/`` (``gs://…`` URIs and
``projects/…/tuningJobs/…`` names), so the gateway mints the public ids.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote

import google.auth.exceptions
import requests

from ...errors import (
    ProviderError,
    ProviderNotFound,
    ProviderNotSupported,
)
from ..base import Provider
from ..data import FileUpload, JobCreate, Page, RemoteFile, RemoteJob
from ..gateway_id import GATEWAY_ID_KEY, gateway_id_of
from ..http import HttpClient
from .auth import auth_error, authorized_session, credentials_info
from .dataset import CHAT, CONVERTED_FOLDERS, OBJECT_ROOT, PREFERENCE, convert_jsonl
from .job_body import (
    JOB_OPTIONS,
    SPEC_FIELDS,
    check_job_options,
    tuned_model_reference,
    tuning_job_body,
)
from .jobs import checkpoint_page, remote_job
from .open_models import is_open_model_id
from .storage import CloudStorageFiles, safe_filename

GCS_API_BASE = "https://storage.googleapis.com"
#: The Gemini-format copy of a fine-tune file sits in this sub-folder, next
#: to the user's original: ``…/ftproxy/<file id>/gemini/<name>`` beside
#: ``…/ftproxy/<file id>/<name>``; a copy of preference (DPO) examples sits in
#: ``…/<file id>/gemini-preference/<name>``, so the URI says which format it holds.
CONVERTED_FOLDER = CONVERTED_FOLDERS[CHAT]
CONVERTED_CONTENT_TYPE = "application/jsonl"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_LOCATION = re.compile(r"^[a-z0-9-]+$")
# Project ids may be domain-scoped ("example.com:proj"); job ids are numeric.
_JOB_NAME = re.compile(r"^projects/[\w.:-]*\w[\w.:-]*/locations/[a-z0-9-]+/tuningJobs/[\w-]+$")


def default_api_base(location: str) -> str:
    """Vertex's regional endpoint; ``global`` has no regional host."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def split_bucket(value: str | None) -> tuple[str, str]:
    """``bucket[/prefix]`` (an optional ``gs://`` tolerated) → (bucket, prefix)."""
    if not value:
        return "", ""
    value = value.strip().removeprefix("gs://").strip("/")
    bucket, _, prefix = value.partition("/")
    return bucket, prefix.strip("/")


class VertexProvider(CloudStorageFiles, Provider):
    """Vertex AI ``tuningJobs`` and Cloud Storage files for one configured
    entry. The same class serves ``files_settings`` entries (which need
    ``gcs_bucket_name``) and ``finetune_settings`` entries."""

    kind = "vertex_ai"
    training_methods = frozenset(SPEC_FIELDS)
    model_family = "gemini"
    example_models = ("gemini-2.5-flash", "meta/llama3_1@llama-3.1-8b-instruct")
    #: ``learning_rate`` and ``tuning_mode`` are for open models only.
    extra_hyperparameters = frozenset({"adapter_size", "learning_rate", "tuning_mode"})
    tuning_modes = frozenset({"lora", "full"})  # full: open models only
    continues_training = True  # from a tuned model's endpoint or checkpoint
    file_uri_prefixes = ("gs://",)
    lists_events = False  # the gateway's status history serves as the events
    result_files_are_files = False  # outputs are models and Cloud Storage objects
    mints_ids = True
    can_delete_models = True
    #: Bytes per PUT of a resumable upload (a multiple of 256 KiB, as Cloud
    #: Storage requires of every chunk but the last).
    resumable_chunk_bytes: int = 32 * 1024 * 1024
    options = frozenset(
        {
            "vertex_project",
            "vertex_location",
            "vertex_credentials",
            "api_base",
            "gcs_bucket_name",
            "gcs_api_base",
            *JOB_OPTIONS,
        }
    )
    required_options = frozenset({"vertex_project", "vertex_location"})

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.project: str = entry["vertex_project"]
        self.location: str = entry["vertex_location"]
        self.api_base = (entry.get("api_base") or default_api_base(self.location)).rstrip("/")
        self.gcs_api_base = (entry.get("gcs_api_base") or GCS_API_BASE).rstrip("/")
        self.bucket, self.prefix = split_bucket(entry.get("gcs_bucket_name"))
        self._credentials = entry.get("vertex_credentials")
        self.job_options = {key: entry[key] for key in JOB_OPTIONS if entry.get(key) is not None}
        self._http: HttpClient | None = None
        self._http_lock = threading.Lock()

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """Check option values: names, URLs, the bucket, the credentials key."""
        for key in ("vertex_project", "vertex_location"):
            if not isinstance(entry.get(key), str) or "/" in entry[key]:
                raise ValueError(f"key {key!r} must be a string without '/'")
        if not _LOCATION.match(entry["vertex_location"]):
            raise ValueError("key 'vertex_location' must be a region such as 'us-central1'")
        for key in ("api_base", "gcs_api_base"):
            value = entry.get(key)
            if value is not None and not re.match(r"^https?://[^/]", str(value)):
                raise ValueError(f"key {key!r} must be an http(s) URL")
        bucket_value = entry.get("gcs_bucket_name")
        if bucket_value is not None:
            bucket, _ = split_bucket(str(bucket_value))
            if not _BUCKET.match(bucket):
                raise ValueError("key 'gcs_bucket_name' must be 'bucket' or 'bucket/prefix'")
        elif entry.get("api") == "files_settings":
            raise ValueError(
                "key 'gcs_bucket_name' is required for vertex_ai in files_settings "
                "(Vertex AI reads training data from Cloud Storage)"
            )
        credentials_info(entry.get("vertex_credentials"))  # raises ValueError
        check_job_options(entry)

    # ---- plumbing -------------------------------------------------------
    def _client(self) -> HttpClient:
        """The entry's HTTP client over one google-auth ``AuthorizedSession``,
        built on first use (so a gateway without Google traffic never loads
        credentials) and then shared by all threads."""
        client = self._http
        if client is None:
            with self._http_lock:
                if self._http is None:
                    session = authorized_session(
                        self._credentials, self.name, refresh_timeout=self.timeout
                    )
                    self._http = HttpClient(
                        self.name,
                        self.api_base,
                        timeout=self.timeout,
                        max_retries=self.max_retries,
                        session=session,
                    )
                client = self._http
        return client

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self._client().request(method, path, **kwargs)
        except google.auth.exceptions.GoogleAuthError as exc:
            # Token refreshes happen inside the request; their failures are
            # not requests exceptions, so http.py cannot map them.
            raise auth_error(exc, self.name) from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self._client().json(method, path, **kwargs)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise auth_error(exc, self.name) from exc

    def _object_url(self, bucket: str, name: str) -> str:
        return f"{self.gcs_api_base}/storage/v1/b/{bucket}/o/{quote(name, safe='')}"

    def _job_path(self, remote_id: str) -> str:
        if not _JOB_NAME.match(remote_id or ""):
            raise ProviderNotFound(f"Not a Vertex AI tuning job name: {remote_id!r}.")
        return f"v1/{remote_id}"

    # ---- files ----------------------------------------------------------
    def check_upload(self, upload: FileUpload) -> None:
        """Files need the entry's Cloud Storage bucket."""
        if not self.bucket:
            raise ProviderNotSupported(
                f"Uploading files needs 'gcs_bucket_name' on the {self.kind} entry '{self.name}'.",
                provider=self.name,
            )

    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Store the upload in Cloud Storage; return its ``gs://`` URI.

        ``fine-tune`` files are converted to Vertex tuning JSONL first (every
        line, before anything is sent, so a bad line costs no upload); the
        user's bytes go to ``<prefix>/ftproxy/<file id>/<name>`` and the
        converted copy, which the URI names, to ``…/<file id>/gemini/<name>``
        (chat examples) or ``…/<file id>/gemini-preference/<name>`` (DPO).
        Other purposes are stored once, unchanged.
        """
        self.check_upload(upload)
        folder, filename, original, remote = self._object_names(upload)
        raw: dict[str, Any] = {"bucket": self.bucket, "original_object": original}
        if upload.purpose != "fine-tune":
            upload.stream.seek(0)
            self._upload_object(original, upload.stream, upload.size, upload.content_type)
        else:
            # The converted size is only known once converted: spool to disk.
            with tempfile.TemporaryFile() as converted:
                upload.stream.seek(0)
                result = convert_jsonl(upload.stream, converted)
                raw.update(examples=result.examples, format=result.format)
                remote = f"{folder}/{CONVERTED_FOLDERS[result.format]}/{filename}"
                converted_size = converted.tell()
                converted.seek(0)
                upload.stream.seek(0)
                self._upload_object(original, upload.stream, upload.size, upload.content_type)
                try:
                    self._upload_object(remote, converted, converted_size, CONVERTED_CONTENT_TYPE)
                except ProviderError:
                    self._delete_quietly(self.bucket, original)
                    raise
            raw.update(training_object=remote, training_bytes=converted_size)
        return self._stored_file(upload, remote, raw)

    def _stored_file(self, upload: FileUpload, name: str, raw: dict[str, Any]) -> RemoteFile:
        """The file an upload became: the object ``name`` in the bucket."""
        return RemoteFile(
            remote_id=f"gs://{self.bucket}/{name}",
            filename=upload.filename,
            purpose=upload.purpose,
            bytes=upload.size,
            created_at=int(time.time()),
            status="processed",
            raw=raw,
        )

    def _object_names(self, upload: FileUpload) -> tuple[str, str, str, str]:
        """(folder, file name, original object, object the URI names). The
        folder is named by the gateway's id when there is one, so the upload
        can be found again (``find_file``)."""
        folder_id = upload.gateway_id or uuid.uuid4().hex
        folder = "/".join(p for p in (self.prefix, OBJECT_ROOT, folder_id) if p)
        filename = safe_filename(upload.filename)
        original = f"{folder}/{filename}"
        if upload.purpose != "fine-tune":
            return folder, filename, original, original
        return folder, filename, original, f"{folder}/{CONVERTED_FOLDER}/{filename}"

    def find_file(self, gateway_id: str, upload: FileUpload) -> RemoteFile | None:
        """The upload's objects in Cloud Storage: the one the URI names is
        written last, so its existence means the upload finished."""
        folder, filename, original, remote = self._object_names(
            FileUpload(upload.filename, upload.purpose, upload.stream, upload.size,
                       gateway_id=gateway_id)
        )  # fmt: skip
        # A fine-tune file's converted copy sits in its format's folder.
        candidates = (
            [f"{folder}/{CONVERTED_FOLDERS[kind]}/{filename}" for kind in (CHAT, PREFERENCE)]
            if upload.purpose == "fine-tune"
            else [remote]
        )
        for remote in candidates:
            try:
                data = self._json("GET", self._object_url(self.bucket, remote))
                break
            except ProviderNotFound:
                continue
        else:
            return None
        raw = {"bucket": self.bucket, "original_object": original, "found": data}
        return self._stored_file(upload, remote, raw)

    # ---- fine-tuning jobs ----------------------------------------------
    def tuned_model_reference(self, model: str) -> str | None:
        """Endpoints (what the gateway returns as ``fine_tuned_model`` and
        checkpoints) and tuned ``Model`` resources, as the job's payload
        spells them; None for base models."""
        return tuned_model_reference(model)

    def create_job(self, job: JobCreate) -> RemoteJob:
        """POST a ``TuningJob``; fields Vertex cannot honour are a 400."""
        body = tuning_job_body(job, self.job_options, **self._job_context())
        # An open model's job goes to v1beta1: the googleapis protos define
        # ``supervisedTuningSpec.tuningMode`` and ``outputUri`` there, not in
        # v1. The job is the same resource, read back through v1.
        version = "v1beta1" if is_open_model_id(job.model) else "v1"
        path = f"{version}/projects/{self.project}/locations/{self.location}/tuningJobs"
        return remote_job(self._json("POST", path, json_body=body), self.project)

    def check_job(self, job: JobCreate) -> None:
        """What ``create_job``'s body refuses, with placeholder dataset URIs."""
        placeholder = "gs://ftproxy-check/dataset.jsonl"
        tuning_job_body(
            dataclasses.replace(
                job,
                training_file=placeholder,
                validation_file=placeholder if job.validation_file else None,
            ),
            self.job_options,
            **self._job_context(),
        )

    def _job_context(self) -> dict[str, Any]:
        """The entry's region, and where an open model's weights go when the
        entry sets no ``tuning_output_uri``: its bucket (and prefix)."""
        if not self.bucket:
            return {"location": self.location, "output_base": None}
        base = "/".join(p for p in (f"gs://{self.bucket}", self.prefix) if p)
        return {"location": self.location, "output_base": base}

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """List ``tuningJobs`` filtered on the gateway's label. An empty
        list proves there is none; jobs that are not ours (a filter that was
        not applied) prove nothing."""
        path = f"v1/projects/{self.project}/locations/{self.location}/tuningJobs"
        data = self._json(
            "GET",
            path,
            params={"filter": f'labels.{GATEWAY_ID_KEY}="{gateway_id}"', "pageSize": 10},
        )
        items = data.get("tuningJobs") if isinstance(data, dict) else None
        for item in items or []:
            if isinstance(item, dict) and gateway_id_of(item.get("labels")) == gateway_id:
                return remote_job(item, self.project)
        if items:
            raise self._unsupported("Filtering tuning jobs by label")
        return None

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """GET the ``TuningJob``."""
        return remote_job(self._json("GET", self._job_path(remote_id)), self.project)

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """Ask for cancellation (asynchronous upstream: the job usually reads
        ``JOB_STATE_CANCELLING`` for a while) and return the job as it is now."""
        path = self._job_path(remote_id)
        self._json("POST", f"{path}:cancel", json_body={})
        return remote_job(self._json("GET", path), self.project)

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page | None:
        """None: Vertex has no event feed; the gateway's status history is it."""
        return None

    def list_job_checkpoints(self, remote_id: str, after: str | None, limit: int) -> Page:
        """The tuned model's intermediate checkpoints, newest first."""
        data = self._json("GET", self._job_path(remote_id))
        return checkpoint_page(data, after, limit)

    def pause_job(self, remote_id: str) -> RemoteJob:
        """Vertex tuning jobs cannot be paused."""
        raise self._unsupported("Pausing fine-tuning jobs")

    def resume_job(self, remote_id: str) -> RemoteJob:
        """Vertex tuning jobs cannot be paused, so not resumed either."""
        raise self._unsupported("Resuming fine-tuning jobs")

    # ---- fine-tuned models -----------------------------------------------
    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """``DELETE v1/{tunedModel.model}`` (``projects.locations.models.delete``,
        without the ``@version``): the job's tuned ``Model`` resource, which
        backs the endpoint served as ``fine_tuned_model``. Vertex answers a
        long-running operation, and refuses (400, passed on) while the model
        is still deployed to an endpoint: undeploy it first."""
        tuned = job_payload.get("tunedModel") if isinstance(job_payload, dict) else None
        name = str((tuned or {}).get("model") or "").split("@", 1)[0]
        if not name.startswith("projects/"):
            raise ProviderNotFound(
                f"The tuning job of {model} names no tuned Model resource.", provider=self.name
            )
        self._json("DELETE", f"v1/{name}")
