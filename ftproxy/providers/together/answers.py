"""Together AI's answers read into the provider dataclasses.

Together's job object (``FinetuneResponse`` of the ``together`` SDK) is not
OpenAI's: ISO 8601 times, its own statuses, ``model_output_name`` for the
tuned model, ``token_count``, the training method and LoRA settings as
objects. Files are close to OpenAI's (``Processed`` and ``LineCount``
capitalised). Events carry no id (an optional ``hash``), checkpoints are
``{step, checkpoint_type, created_at}`` named ``<job id>:<step>``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...errors import ProviderFailure
from ..data import RemoteCheckpoint, RemoteEvent, RemoteFile, RemoteJob
from ..times import unix_seconds

#: Together's job status → (OpenAI's status, whether nothing changes any more).
#: The statuses are ``FinetuneJobStatus`` of the ``together`` SDK.
STATUSES: dict[str, tuple[str, bool]] = {
    "pending": ("queued", False),
    "queued": ("queued", False),
    "running": ("running", False),
    # After training: the weights are packed and stored; still working.
    "compressing": ("running", False),
    "uploading": ("running", False),
    # A cancel asked for but not done yet (as Vertex AI's CANCELLING).
    "cancel_requested": ("cancelled", False),
    "cancelled": ("cancelled", True),
    "error": ("failed", True),
    "user_error": ("failed", True),
    "completed": ("succeeded", True),
}
#: A status Together adds later reads as still going (its word is kept).
UNKNOWN_STATUS = ("running", False)

#: Together's event levels (``FinetuneEventLevels``) → OpenAI's.
EVENT_LEVELS = {"warning": "warn", "error": "error"}
#: Event types that say why a job failed.
ERROR_EVENTS = {"JOB_ERROR": "error", "JOB_USER_ERROR": "user_error"}

#: Fields of a job answer the gateway shapes; the rest pass on as given.
SHAPED_JOB_FIELDS = frozenset(
    {
        "id",
        "object",
        "model",
        "status",
        "created_at",
        "updated_at",
        "training_file",
        "validation_file",
        "n_epochs",
        "batch_size",
        "learning_rate",
        "training_method",
        "suffix",
        "random_seed",
        "events",
    }
)


def job_status(raw_status: str) -> tuple[str, bool]:
    """OpenAI's word for Together's status, and whether it is final."""
    return STATUSES.get(raw_status, UNKNOWN_STATUS)


def _object(data: Any, what: str, provider: str) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
        return data
    raise ProviderFailure(
        f"The provider '{provider}' answered with a malformed {what} object.",
        provider=provider,
        body=data,
    )


def to_file(data: Any, provider: str, *, size: int | None = None) -> RemoteFile:
    """A Together file (``FileResponse``). ``size`` stands in for ``bytes``
    when Together has not counted them yet (it reports 0 until processed)."""
    raw = _object(data, "file", provider)
    processed = raw.get("Processed", raw.get("processed"))
    return RemoteFile(
        remote_id=raw["id"],
        filename=raw.get("filename") or "",
        purpose=raw.get("purpose") or "fine-tune",
        bytes=raw.get("bytes") or size,
        created_at=unix_seconds(raw.get("created_at")) or 0,
        status="uploaded" if processed is False else "processed",
        raw=raw,
    )


def _method(raw: dict[str, Any], hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``method`` for Together's ``training_method``."""
    training = raw.get("training_method") if isinstance(raw.get("training_method"), dict) else {}
    if training.get("method") == "dpo":
        dpo = dict(hyperparameters)
        if training.get("dpo_beta") is not None:
            dpo["beta"] = training["dpo_beta"]
        return {"type": "dpo", "dpo": {"hyperparameters": dpo}}
    return {"type": "supervised", "supervised": {"hyperparameters": dict(hyperparameters)}}


def _error(raw: dict[str, Any], raw_status: str) -> dict[str, Any] | None:
    """Why a failed job failed: its last error event (Together has no
    ``error`` field), else its status."""
    if raw_status not in ("error", "user_error"):
        return None
    for event in reversed(raw.get("events") or []):
        if isinstance(event, dict) and event.get("type") in ERROR_EVENTS:
            return {
                "code": ERROR_EVENTS[event["type"]],
                "message": event.get("message") or "",
                "param": None,
            }
    return {
        "code": raw_status,
        "message": f"The job ended with status {raw_status}.",
        "param": None,
    }


def to_job(data: Any, provider: str) -> RemoteJob:
    """A Together fine-tuning job (``FinetuneResponse``) in OpenAI's words."""
    raw = _object(data, "fine-tuning job", provider)
    raw_status = str(raw.get("status") or "")
    status, terminal = job_status(raw_status)
    hyperparameters = {
        name: raw[name]
        for name in ("n_epochs", "batch_size", "learning_rate")
        if raw.get(name) is not None
    }
    updated = unix_seconds(raw.get("updated_at"))
    progress = raw.get("progress") if isinstance(raw.get("progress"), dict) else {}
    estimated = None
    if not terminal and progress.get("estimate_available") and updated is not None:
        estimated = updated + int(progress.get("seconds_remaining") or 0)
    succeeded = status == "succeeded"
    epochs = raw.get("n_epochs")
    tokens = raw.get("token_count")
    return RemoteJob(
        remote_id=raw["id"],
        # A job continued from a checkpoint may name only the checkpoint.
        model=raw.get("model") or raw.get("from_checkpoint") or "",
        status=status,
        raw_status=raw_status,
        created_at=unix_seconds(raw.get("created_at")) or 0,
        terminal=terminal,
        training_file=raw.get("training_file"),
        validation_file=raw.get("validation_file") or None,
        fine_tuned_model=(raw.get("model_output_name") or None) if succeeded else None,
        finished_at=updated if terminal else None,
        estimated_finish=estimated,
        # Together bills n_epochs × the dataset's tokens (its pricing page);
        # token_count is the dataset's.
        trained_tokens=(
            tokens * epochs
            if succeeded and isinstance(tokens, int) and isinstance(epochs, int)
            else None
        ),
        hyperparameters=hyperparameters,
        method=_method(raw, hyperparameters),
        error=_error(raw, raw_status),
        seed=raw.get("random_seed"),
        suffix=raw.get("suffix"),
        raw=raw,
        upstream_fields={k: v for k, v in raw.items() if k not in SHAPED_JOB_FIELDS},
    )


def event_id(job_id: str, event: dict[str, Any]) -> str:
    """An event's id: Together's ``hash`` when it sends one, else a digest
    of what the event says (stable across reads)."""
    if isinstance(event.get("hash"), str) and event["hash"]:
        return f"ftevent-{event['hash']}"
    seen = "\x1f".join(
        str(event.get(k) or "") for k in ("created_at", "type", "message", "level")
    ).encode()
    return "ftevent-" + hashlib.sha256(job_id.encode() + b"\x1e" + seen).hexdigest()[:24]


def to_event(job_id: str, event: dict[str, Any]) -> RemoteEvent:
    """A Together event (``FinetuneEvent``) as ``fine_tuning.job.event``."""
    level = str(event.get("level") or "").lower()
    data = {
        k: event[k]
        for k in ("type", "token_count", "param_count", "wandb_url")
        if event.get(k) is not None
    }
    return RemoteEvent(
        id=event_id(job_id, event),
        created_at=unix_seconds(event.get("created_at")) or 0,
        level=EVENT_LEVELS.get(level, "info"),
        message=event.get("message") or str(event.get("type") or ""),
        data=data or None,
    )


def to_checkpoint(job_id: str, checkpoint: dict[str, Any]) -> RemoteCheckpoint:
    """A Together checkpoint as ``fine_tuning.job.checkpoint``. Its name is
    what ``from_checkpoint`` takes: ``<job id>:<step>`` for an intermediate
    one, the job id for the final model (as the ``together`` SDK names them)."""
    step = int(checkpoint.get("step") or 0)
    kind = str(checkpoint.get("checkpoint_type") or "")
    intermediate = "intermediate" in kind.lower()
    name = f"{job_id}:{step}" if intermediate else job_id
    slug = "".join(c if c.isalnum() else "-" for c in kind.lower()).strip("-") or "checkpoint"
    return RemoteCheckpoint(
        id=f"ftckpt-{job_id}-{step}-{slug}",
        created_at=unix_seconds(checkpoint.get("created_at")) or 0,
        fine_tuned_model_checkpoint=name,
        step_number=step,
        metrics={"step": step},
    )
