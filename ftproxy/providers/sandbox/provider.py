"""The built-in offline provider: files on local disk and simulated jobs.

Files and jobs are JSON records under ``storage_dir`` (default
``$FTPROXY_VAR_DIR/sandbox``, else ``var/sandbox`` in the working directory),
so a ``files_settings`` and a ``finetune_settings`` entry with default options
share them, as do several worker processes. Ids look like OpenAI's
(``file-<hex>``, ``ftjob-<hex>``) and serve as public ids.

A job's status is computed from its stored timeline whenever it is asked
for; nothing runs in the background. Stage lengths come from the entry that
created the job (floats allowed, 0 means instant)::

    validating_files  validate_seconds (default 2)
    queued            queue_seconds    (default 3)
    running           run_seconds      (default 20), paused time excluded
    succeeded         fine_tuned_model "ft:<model>:sandbox:<suffix>:<id8>",
                      trained_tokens = training bytes // 4 × n_epochs,
                      a results CSV (purpose "fine-tune-results")

Hyperparameters are echoed as given until the job runs; then ``"auto"``
becomes n_epochs 3, batch_size 1, learning_rate_multiplier 1.8. Events
(metrics steps, a checkpoint per epoch for the last three epochs) follow
the same clock. Pause works only while running; resume works only while
paused and, like OpenAI's example, answers ``queued``: the job waits
``queue_seconds`` again, then runs on where it stopped. Cancel works until
the job is final.

Deterministic failure: a job created with ``suffix: "fail"`` or metadata
``{"sandbox_outcome": "failed"}`` runs its full course and then ends
``failed`` with ``error`` ``{"code": "sandbox_simulated_failure", ...}``
(no model, no final checkpoint).
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
import uuid
from typing import Any

from ...errors import ProviderInputError, ProviderNotFound
from ..base import Provider
from ..data import (
    FileContent,
    FileUpload,
    JobCreate,
    Page,
    RemoteCheckpoint,
    RemoteEvent,
    RemoteFile,
    RemoteJob,
)
from ..openai.limits import EXAMPLE_TOKEN_LIMITS, MIN_TRAINING_EXAMPLES
from .checks import check_example_count, check_method_fits_file
from .clock import FINAL_STATUSES, SandboxJob, page_after, resolve_hyperparameters
from .store import CHUNK_SIZE, SandboxStore, default_storage_dir

#: OpenAI's minimum number of training examples, rehearsed here.

STAGE_DEFAULTS = {"validate_seconds": 2.0, "queue_seconds": 3.0, "run_seconds": 20.0}


class SandboxProvider(Provider):
    """Files and fine-tuning jobs simulated offline, state kept on disk."""

    kind = "sandbox"
    training_methods = frozenset({"supervised", "dpo"})
    # It rehearses OpenAI's dataset rules.
    min_training_examples = MIN_TRAINING_EXAMPLES
    example_token_limits = EXAMPLE_TOKEN_LIMITS
    can_pause = True
    can_delete_models = True
    options = frozenset(
        {"storage_dir", "validate_seconds", "queue_seconds", "run_seconds", "organization_id"}
    )

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.store = SandboxStore(entry.get("storage_dir") or default_storage_dir())
        self.stage_seconds = {
            key: float(entry[key]) if entry.get(key) is not None else default
            for key, default in STAGE_DEFAULTS.items()
        }
        self.organization_id: str = entry.get("organization_id") or "org-sandbox"

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """Stage lengths must be numbers ≥ 0; the other options strings."""
        for key in STAGE_DEFAULTS:
            value = entry.get(key)
            if value is None:
                continue
            try:
                ok = not isinstance(value, bool) and float(value) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"key {key!r} must be a number of seconds ≥ 0")
        for key in ("storage_dir", "organization_id"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise ValueError(f"key {key!r} must be a string")

    # ---- files --------------------------------------------------------
    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Copy ``upload.stream`` to disk in chunks; the file is ``processed``
        at once. ``expires_after`` ({anchor: created_at, seconds}) sets
        ``expires_at``; an expired file is gone (404), as on OpenAI."""
        file_id = f"file-{uuid.uuid4().hex}"
        if getattr(upload.stream, "seekable", lambda: False)():
            upload.stream.seek(0)  # the service may have read it to validate it
        size, lines = self.store.save_blob(file_id, upload.stream)
        created_at = int(time.time())
        seconds = (upload.expires_after or {}).get("seconds")
        record = {
            "id": file_id,
            "object": "file",
            "bytes": size,
            "created_at": created_at,
            "expires_at": created_at + int(seconds) if seconds is not None else None,
            "filename": upload.filename,
            "purpose": upload.purpose,
            "status": "processed",
            "status_details": None,
            "content_type": upload.content_type,
            "lines": lines,
            "gateway_id": upload.gateway_id,
        }
        self.store.write("files", record)
        return self._remote_file(record)

    def find_file(self, gateway_id: str, upload: FileUpload) -> RemoteFile | None:
        """The file whose upload carried ``gateway_id``, or None."""
        for record in self.store.records("files"):
            if record.get("gateway_id") == gateway_id:
                return self._remote_file(record)
        return None

    def retrieve_file(self, remote_id: str) -> RemoteFile:
        """The stored file; ProviderNotFound if unknown, deleted or expired."""
        return self._remote_file(self._file_record(remote_id))

    def delete_file(self, remote_id: str) -> None:
        """Remove the record and bytes; ProviderNotFound if there are none."""
        with self.store.locked():
            self._file_record(remote_id)
            self.store.delete("files", remote_id)

    def file_content(self, remote_id: str) -> FileContent:
        """Stream the stored bytes back in chunks; ``close`` closes the file."""
        record = self._file_record(remote_id)
        blob = self.store.open_blob(remote_id)
        if blob is None:
            raise self._file_not_found(remote_id)

        def chunks():
            with blob:
                while chunk := blob.read(CHUNK_SIZE):
                    yield chunk

        return FileContent(
            chunks=chunks(),
            content_type=record.get("content_type") or "application/octet-stream",
            length=record["bytes"],
            close=blob.close,
        )

    def _file_record(self, remote_id: str) -> dict[str, Any]:
        record = self.store.read("files", remote_id)
        if record is None:
            raise self._file_not_found(remote_id)
        if record.get("expires_at") is not None and record["expires_at"] <= time.time():
            self.store.delete("files", remote_id)
            raise self._file_not_found(remote_id)
        return record

    def _file_not_found(self, remote_id: str) -> ProviderNotFound:
        return ProviderNotFound(f"No such File object: {remote_id}", provider=self.name)

    def _remote_file(self, record: dict[str, Any]) -> RemoteFile:
        raw = {key: value for key, value in record.items() if key not in ("content_type", "lines")}
        return RemoteFile(
            remote_id=record["id"],
            filename=record["filename"],
            purpose=record["purpose"],
            bytes=record["bytes"],
            created_at=record["created_at"],
            status=record["status"],
            status_details=record.get("status_details"),
            expires_at=record.get("expires_at"),
            raw=raw,
        )

    # ---- jobs -----------------------------------------------------------
    def create_job(self, job: JobCreate) -> RemoteJob:
        """Check the files exist here (else 400 with ``param`` naming the
        field, like OpenAI), store every field and start the clock."""
        training = self._job_input_file(job.training_file, "training_file")
        if job.validation_file:
            self._job_input_file(job.validation_file, "validation_file")
        check_method_fits_file(self.store, job, provider=self.name)
        check_example_count(self.store, job.training_file, provider=self.name)
        try:
            resolve_hyperparameters(job.hyperparameters, job.method)
        except ProviderInputError as exc:
            exc.provider = self.name
            raise
        request = copy.deepcopy(dataclasses.asdict(job))
        if request["seed"] is None:
            request["seed"] = random.randint(0, 2**31 - 1)
        failing = job.suffix == "fail" or (job.metadata or {}).get("sandbox_outcome") == "failed"
        record = {
            "id": f"ftjob-{uuid.uuid4().hex}",
            "created": time.time(),
            "request": request,
            "stages": dict(self.stage_seconds),
            "outcome": "failed" if failing else "succeeded",
            "organization_id": self.organization_id,
            "training_bytes": training["bytes"],
            "training_lines": training.get("lines") or 1,
            "pauses": [],
            "cancelled": None,
            "result_file": None,
        }
        self.store.write("jobs", record)
        return self._remote_job(record)

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """The job whose create carried ``gateway_id``, or None."""
        for record in self.store.records("jobs"):
            if (record.get("request") or {}).get("gateway_id") == gateway_id:
                return self._remote_job(record)
        return None

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """The job as of now, computed from its stored timeline."""
        return self._remote_job(self._job_record(remote_id))

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """Cancel from any non-final status; a final job is a 400."""
        with self.store.locked():
            record = self._job_record(remote_id)
            now = time.time()
            status = SandboxJob(record).status(now)
            if status in FINAL_STATUSES:
                raise self._state_error(f"Job has already completed: {remote_id} is {status}")
            record["cancelled"] = now
            self.store.write("jobs", record)
        return self._remote_job(record)

    def pause_job(self, remote_id: str) -> RemoteJob:
        """Pause a running job (its clock stops); any other status is a 400."""
        with self.store.locked():
            record = self._job_record(remote_id)
            now = time.time()
            status = SandboxJob(record).status(now)
            if status != "running":
                raise self._state_error(
                    f"Job {remote_id} cannot be paused: it is {status}, not running"
                )
            record["pauses"].append([now, None, None])
            self.store.write("jobs", record)
        return self._remote_job(record)

    def resume_job(self, remote_id: str) -> RemoteJob:
        """Resume a paused job: it answers ``queued``, waits the job's
        ``queue_seconds``, then runs on; any other status is a 400."""
        with self.store.locked():
            record = self._job_record(remote_id)
            now = time.time()
            status = SandboxJob(record).status(now)
            if status != "paused":
                raise self._state_error(
                    f"Job {remote_id} cannot be resumed: it is {status}, not paused"
                )
            record["pauses"][-1][1:] = [now, now + record["stages"]["queue_seconds"]]
            self.store.write("jobs", record)
        return self._remote_job(record)

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page:
        """Events so far, newest first; ``after`` is an event id."""
        job = SandboxJob(self._job_record(remote_id))
        events = [RemoteEvent(**event) for event in job.events(time.time())]
        return page_after(events, after, limit)

    def list_job_checkpoints(self, remote_id: str, after: str | None, limit: int) -> Page:
        """Checkpoints so far, newest first; ``after`` is a checkpoint id."""
        job = SandboxJob(self._job_record(remote_id))
        checkpoints = [RemoteCheckpoint(**ckpt) for ckpt in job.checkpoints(time.time())]
        return page_after(checkpoints, after, limit)

    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """Mark the producing job's model deleted (as OpenAI's
        ``DELETE /v1/models/{model}``); ProviderNotFound when it has none."""
        with self.store.locked():
            record = self.store.read("jobs", str(job_payload.get("id") or ""))
            if record is None or record.get("model_deleted"):
                raise ProviderNotFound(f"The model '{model}' does not exist", provider=self.name)
            record["model_deleted"] = True
            self.store.write("jobs", record)

    def _job_input_file(self, file_id: str, param: str) -> dict[str, Any]:
        try:
            record = self._file_record(file_id)
        except ProviderNotFound:
            record = None
        if record is None or record["purpose"] != "fine-tune":
            why = "" if record is None else f" (purpose {record['purpose']!r}, not 'fine-tune')"
            raise ProviderInputError(
                f"invalid {param}: {file_id}{why}",
                provider=self.name,
                param=param,
                code=f"invalid_{param}",
            )
        return record

    def _job_record(self, remote_id: str) -> dict[str, Any]:
        record = self.store.read("jobs", remote_id)
        if record is None:
            raise ProviderNotFound(f"No such fine-tuning job: {remote_id}", provider=self.name)
        return record

    def _state_error(self, message: str) -> ProviderInputError:
        return ProviderInputError(message, provider=self.name)

    def _remote_job(self, record: dict[str, Any]) -> RemoteJob:
        job = SandboxJob(record)
        payload = job.payload(time.time())
        if payload["status"] == "succeeded" and not record.get("result_file"):
            payload["result_files"] = [self._write_results_file(record["id"])]
        return RemoteJob(
            remote_id=payload["id"],
            raw_status=payload["status"],
            terminal=payload["status"] in FINAL_STATUSES,
            raw=payload,
            **{key: payload[key] for key in _JOB_FIELDS},
        )

    def _write_results_file(self, job_id: str) -> str:
        """Store the job's results CSV once, under the lock; return its id."""
        with self.store.locked():
            record = self._job_record(job_id)
            if record.get("result_file"):
                return record["result_file"]
            job = SandboxJob(record)
            file_id, data = job.results_csv()
            self.store.save_blob_bytes(file_id, data)
            self.store.write(
                "files",
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(data),
                    "created_at": job.payload(time.time())["finished_at"],
                    "expires_at": None,
                    "filename": "step_metrics.csv",
                    "purpose": "fine-tune-results",
                    "status": "processed",
                    "status_details": None,
                    "content_type": "text/csv",
                },
            )
            record["result_file"] = file_id
            self.store.write("jobs", record)
        return file_id


_JOB_FIELDS = [
    field.name
    for field in dataclasses.fields(RemoteJob)
    if field.name
    not in ("remote_id", "raw_status", "terminal", "raw", "upstream_fields", "notices")
]
