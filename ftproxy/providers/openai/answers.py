"""OpenAI's answers read into the provider dataclasses (``OpenAIAnswers``,
a base of ``OpenAIProvider``). Each reader keeps the answer as given in
``raw`` and works on a copy that the provider's ``normalise_*`` hooks bring
to OpenAI's shapes (Azure's differ)."""

from __future__ import annotations

from typing import Any

from ...errors import ProviderFailure
from ..data import JOB_FIELDS, RemoteCheckpoint, RemoteEvent, RemoteFile, RemoteJob, RemoteUpload
from ..gateway_id import gateway_id_of, without_gateway_id

#: OpenAI job statuses after which nothing changes any more.
TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
#: Fields of a job answer that the gateway shapes itself (OpenAI's job
#: fields, and the British spelling some answers carry); every other field
#: is passed on as the provider sent it (``RemoteJob.upstream_fields``).
SHAPED_JOB_FIELDS = frozenset({*JOB_FIELDS, "organisation_id"})


class OpenAIAnswers:
    """Readers of OpenAI-shaped answers; the provider supplies ``name``,
    ``job_status`` and the ``normalise_*`` hooks."""

    name: str

    def normalise_file(self, data: dict[str, Any]) -> dict[str, Any]:
        """Bring a file object to OpenAI's shape (already there for OpenAI)."""
        return data

    def normalise_job(self, data: dict[str, Any]) -> dict[str, Any]:
        """Bring a job object to OpenAI's shape (already there for OpenAI)."""
        return data

    def normalise_event(self, data: dict[str, Any]) -> dict[str, Any]:
        """Bring an event object to OpenAI's shape (already there for OpenAI)."""
        return data

    def job_status(self, raw_status: str) -> str:
        """OpenAI's word for the provider's job status."""
        return raw_status

    def to_file(self, data: Any) -> RemoteFile:
        raw = self._object(data, "file")
        data = self.normalise_file(dict(raw))
        return RemoteFile(
            remote_id=data["id"],
            filename=data.get("filename") or "",
            purpose=data.get("purpose") or "",
            bytes=data.get("bytes"),
            created_at=int(data.get("created_at") or 0),
            status=data.get("status") or "processed",
            status_details=data.get("status_details"),
            expires_at=data.get("expires_at"),
            raw=raw,
        )

    def to_upload(self, data: Any) -> RemoteUpload:
        raw = self._object(data, "upload")
        nested = raw.get("file")
        return RemoteUpload(
            remote_id=raw["id"],
            status=str(raw.get("status") or ""),
            expires_at=raw.get("expires_at"),
            file=self.to_file(nested) if nested else None,
            raw=raw,
        )

    def to_job(self, data: Any) -> RemoteJob:
        raw = self._object(data, "fine-tuning job")
        if gateway_id_of(raw.get("metadata")):  # the gateway's tag never travels further
            raw = {**raw, "metadata": without_gateway_id(raw["metadata"])}
        data = self.normalise_job(dict(raw))
        raw_status = str(data.get("status") or "")
        return RemoteJob(
            remote_id=data["id"],
            model=data.get("model") or "",
            status=self.job_status(raw_status),
            raw_status=raw_status,
            created_at=int(data.get("created_at") or 0),
            terminal=raw_status in TERMINAL_JOB_STATUSES,
            training_file=data.get("training_file"),
            validation_file=data.get("validation_file"),
            fine_tuned_model=data.get("fine_tuned_model"),
            finished_at=data.get("finished_at"),
            estimated_finish=data.get("estimated_finish"),
            trained_tokens=data.get("trained_tokens"),
            hyperparameters=data.get("hyperparameters") or {},
            method=data.get("method"),
            error=_job_error(data.get("error")),
            organization_id=data.get("organization_id") or "",
            result_files=list(data.get("result_files") or []),
            seed=data.get("seed"),
            suffix=data.get("suffix"),
            integrations=data.get("integrations"),
            metadata=data.get("metadata"),
            raw=raw,
            upstream_fields={k: v for k, v in data.items() if k not in SHAPED_JOB_FIELDS},
        )

    def to_event(self, data: Any) -> RemoteEvent:
        data = self.normalise_event(dict(self._object(data, "event")))
        return RemoteEvent(
            id=data["id"],
            created_at=int(data.get("created_at") or 0),
            level=data.get("level") or "info",
            message=data.get("message") or "",
            type=data.get("type") or "message",
            data=data.get("data"),
        )

    def to_checkpoint(self, data: Any) -> RemoteCheckpoint:
        data = self._object(data, "checkpoint")
        return RemoteCheckpoint(
            id=data["id"],
            created_at=int(data.get("created_at") or 0),
            fine_tuned_model_checkpoint=data.get("fine_tuned_model_checkpoint") or "",
            step_number=int(data.get("step_number") or 0),
            metrics=data.get("metrics") or {},
        )

    def _object(self, data: Any, what: str) -> dict[str, Any]:
        """``data`` if it is an object with an id, else a ProviderFailure: a
        malformed success must not surface as a KeyError. ``raw`` keeps this
        answer as the provider gave it; normalisation works on a copy."""
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
            return data
        raise ProviderFailure(
            f"The provider '{self.name}' answered with a malformed {what} object.",
            provider=self.name,
            body=data,
        )


def _job_error(error: Any) -> dict[str, Any] | None:
    # OpenAI sends error: null, or an object whose fields are all null.
    if isinstance(error, dict):
        return error if any(error.values()) else None
    return {"message": str(error)} if error else None
