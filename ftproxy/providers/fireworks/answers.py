"""Fireworks answers read into the provider dataclasses.

Fireworks resources are Google-style (the ``fireworks-ai`` SDK's
``Dataset``, ``SupervisedFineTuningJob`` and ``DpoJob``): a resource ``name``
(``accounts/{account}/datasets/{id}``), RFC 3339 times, int64 counts as
strings, ``state`` enums (``JOB_STATE_*`` for jobs, ``READY`` /
``UPLOADING`` for datasets) and a ``google.rpc.Status``-like ``status``.
"""

from __future__ import annotations

from typing import Any

from ...errors import ProviderFailure
from ..data import RemoteFile, RemoteJob
from ..times import unix_seconds

#: ``JobState`` (the fireworks-ai SDK's enum) → (OpenAI's status, final).
STATES: dict[str, tuple[str, bool]] = {
    "JOB_STATE_UNSPECIFIED": ("queued", False),
    "JOB_STATE_CREATING": ("queued", False),
    "JOB_STATE_PENDING": ("queued", False),
    "JOB_STATE_CREATING_INPUT_DATASET": ("queued", False),
    "JOB_STATE_RE_QUEUEING": ("queued", False),
    "JOB_STATE_IDLE": ("queued", False),
    "JOB_STATE_VALIDATING": ("validating_files", False),
    "JOB_STATE_RUNNING": ("running", False),
    "JOB_STATE_WRITING_RESULTS": ("running", False),
    # "Job is paused, typically due to account suspension" (the SDK's enum doc).
    "JOB_STATE_PAUSED": ("paused", False),
    "JOB_STATE_CANCELLING": ("cancelled", False),
    "JOB_STATE_DELETING": ("cancelled", False),
    "JOB_STATE_DELETING_CLEANING_UP": ("cancelled", False),
    "JOB_STATE_CANCELLED": ("cancelled", True),
    "JOB_STATE_DELETED": ("cancelled", True),
    "JOB_STATE_COMPLETED": ("succeeded", True),
    # Stopped early because the validation loss stopped improving: a model.
    "JOB_STATE_EARLY_STOPPED": ("succeeded", True),
    "JOB_STATE_FAILED": ("failed", True),
    "JOB_STATE_EXPIRED": ("failed", True),
}
#: A state Fireworks adds later reads as still going (its word is kept).
UNKNOWN_STATE = ("running", False)

#: Fields of a job the gateway shapes; the rest pass on as Fireworks sent them.
SHAPED_JOB_FIELDS = frozenset(
    {
        "name",
        "state",
        "createTime",
        "completedTime",
        "baseModel",
        "warmStartFrom",
        "dataset",
        "evaluationDataset",
        "outputModel",
        "epochs",
        "batchSizeSamples",
        "learningRate",
        "status",
        "displayName",
        "wandbConfig",
    }
)


#: Fields of a DPO job the gateway shapes (its settings are in
#: ``trainingConfig``, whose other fields pass on).
SHAPED_DPO_FIELDS = frozenset(
    {"name", "state", "createTime", "completedTime", "dataset", "status", "displayName"}
    | {"wandbConfig", "trainingConfig"}
)
SHAPED_TRAINING_CONFIG = frozenset(
    {"baseModel", "warmStartFrom", "outputModel", "epochs", "batchSizeSamples", "learningRate"}
)


def last_segment(name: Any) -> str:
    """``accounts/a/datasets/d`` → ``d``."""
    return str(name or "").rstrip("/").rsplit("/", 1)[-1]


def _resource(data: Any, what: str, provider: str) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"]:
        return data
    raise ProviderFailure(
        f"The provider '{provider}' answered with a malformed {what} object.",
        provider=provider,
        body=data,
    )


def to_file(data: Any, provider: str, *, size: int | None = None) -> RemoteFile:
    """A dataset as a file: its id is the dataset id (no ``/``)."""
    raw = _resource(data, "dataset", provider)
    return RemoteFile(
        remote_id=last_segment(raw["name"]),
        filename=raw.get("displayName") or last_segment(raw["name"]),
        purpose="fine-tune",
        bytes=size,
        created_at=unix_seconds(raw.get("createTime")) or 0,
        status="processed" if raw.get("state") == "READY" else "uploaded",
        raw=raw,
    )


def job_state(raw_state: str) -> tuple[str, bool]:
    return STATES.get(raw_state, UNKNOWN_STATE)


def _error(raw: dict[str, Any], status: str) -> dict[str, Any] | None:
    if status != "failed":
        return None
    detail = raw.get("status") if isinstance(raw.get("status"), dict) else {}
    return {
        "code": str(detail.get("code") or raw.get("state") or "failed"),
        "message": detail.get("message") or f"The job ended in {raw.get('state')}.",
        "param": None,
    }


def _read_hyperparameters(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        name: settings[key]
        for name, key in (
            ("n_epochs", "epochs"),
            ("batch_size", "batchSizeSamples"),
            ("learning_rate", "learningRate"),
        )
        if settings.get(key) is not None
    }


def to_job(data: Any, provider: str) -> RemoteJob:
    """A ``SupervisedFineTuningJob`` in OpenAI's words."""
    raw = _resource(data, "fine-tuning job", provider)
    raw_state = str(raw.get("state") or "")
    status, terminal = job_state(raw_state)
    hyperparameters = _read_hyperparameters(raw)
    return RemoteJob(
        remote_id=last_segment(raw["name"]),
        model=raw.get("baseModel") or raw.get("warmStartFrom") or "",
        status=status,
        raw_status=raw_state,
        created_at=unix_seconds(raw.get("createTime")) or 0,
        terminal=terminal,
        training_file=last_segment(raw.get("dataset")) or None,
        validation_file=last_segment(raw.get("evaluationDataset")) or None,
        fine_tuned_model=(raw.get("outputModel") or None) if status == "succeeded" else None,
        finished_at=unix_seconds(raw.get("completedTime")) if terminal else None,
        hyperparameters=hyperparameters,
        method={"type": "supervised", "supervised": {"hyperparameters": dict(hyperparameters)}},
        error=_error(raw, status),
        suffix=raw.get("displayName"),
        raw=raw,
        upstream_fields={k: v for k, v in raw.items() if k not in SHAPED_JOB_FIELDS},
    )


def to_dpo_job(data: Any, provider: str) -> RemoteJob:
    """A ``DpoJob`` in OpenAI's words: its model, output model and settings
    are read from ``trainingConfig``."""
    raw = _resource(data, "fine-tuning job", provider)
    config = raw.get("trainingConfig") if isinstance(raw.get("trainingConfig"), dict) else {}
    raw_state = str(raw.get("state") or "")
    status, terminal = job_state(raw_state)
    hyperparameters = _read_hyperparameters(config)
    upstream = {k: v for k, v in raw.items() if k not in SHAPED_DPO_FIELDS}
    rest = {k: v for k, v in config.items() if k not in SHAPED_TRAINING_CONFIG}
    if rest:
        upstream["trainingConfig"] = rest
    return RemoteJob(
        remote_id=last_segment(raw["name"]),
        model=config.get("baseModel") or config.get("warmStartFrom") or "",
        status=status,
        raw_status=raw_state,
        created_at=unix_seconds(raw.get("createTime")) or 0,
        terminal=terminal,
        training_file=last_segment(raw.get("dataset")) or None,
        validation_file=None,
        fine_tuned_model=(config.get("outputModel") or None) if status == "succeeded" else None,
        finished_at=unix_seconds(raw.get("completedTime")) if terminal else None,
        hyperparameters=hyperparameters,
        method={"type": "dpo", "dpo": {"hyperparameters": dict(hyperparameters)}},
        error=_error(raw, status),
        suffix=raw.get("displayName"),
        raw=raw,
        upstream_fields=upstream,
    )
