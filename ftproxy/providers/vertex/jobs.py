"""A Vertex AI ``TuningJob`` read back in OpenAI's vocabulary.

The job's state, timestamps, trained tokens, error and checkpoints, mapped
from the resource Vertex returns; ``provider.py`` does the calls.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from ...errors import ProviderFailure
from ..data import Page, RemoteCheckpoint, RemoteEvent, RemoteJob
from ..gateway_id import gateway_id_of, without_gateway_id
from .job_body import ADAPTER_SIZES

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")

#: ``JOB_STATE_*`` → (OpenAI status, terminal). CANCELLING is not terminal:
#: the job may still finish or fail before the cancellation lands.
JOB_STATES: dict[str, tuple[str, bool]] = {
    "JOB_STATE_UNSPECIFIED": ("queued", False),
    "JOB_STATE_QUEUED": ("queued", False),
    "JOB_STATE_PENDING": ("queued", False),
    "JOB_STATE_RUNNING": ("running", False),
    "JOB_STATE_UPDATING": ("running", False),
    "JOB_STATE_PAUSED": ("paused", False),
    "JOB_STATE_CANCELLING": ("cancelled", False),
    "JOB_STATE_SUCCEEDED": ("succeeded", True),
    "JOB_STATE_PARTIALLY_SUCCEEDED": ("succeeded", True),
    "JOB_STATE_FAILED": ("failed", True),
    "JOB_STATE_EXPIRED": ("failed", True),
    "JOB_STATE_CANCELLED": ("cancelled", True),
}
#: Vertex's ``AdapterSize`` enum → the gateway's ``adapter_size``.
ADAPTER_SIZE_NUMBERS = {enum: size for size, enum in ADAPTER_SIZES.items()}
#: google.rpc.Code numbers → names (a TuningJob's ``error.code`` is the number).
RPC_CODES = (
    "OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS "
    "PERMISSION_DENIED RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE "
    "UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED"
).split()


def unix_seconds(value: Any) -> int | None:
    """An RFC 3339 timestamp (any fraction digits, ``Z`` or an offset) as
    whole Unix seconds; None if absent or unreadable."""
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match:
        return None
    offset = "+00:00" if match[3] in ("Z", "z") else match[3]
    stamp = datetime.fromisoformat(f"{match[1][:10]}T{match[1][11:]}{offset}")
    return int(stamp.timestamp())  # whole seconds: the fraction is dropped


def _int(value: Any) -> int | None:
    # proto3 JSON sends int64 as strings; accept numbers too.
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def remote_job(data: dict[str, Any], project: str) -> RemoteJob:
    """A ``TuningJob`` resource in OpenAI's vocabulary."""
    if not isinstance(data, dict) or not data.get("name"):
        raise ProviderFailure("Vertex AI answered without a tuning job.", body=data)
    raw_status = data.get("state") or "JOB_STATE_UNSPECIFIED"
    # An unknown future state is treated as in progress, so syncing goes on.
    status, terminal = JOB_STATES.get(raw_status, ("running", False))
    kind = "dpo" if "preferenceOptimizationSpec" in data else "supervised"
    spec = data.get("preferenceOptimizationSpec" if kind == "dpo" else "supervisedTuningSpec") or {}
    hyper = spec.get("hyperParameters") or {}
    epochs = _int(hyper.get("epochCount"))
    multiplier = hyper.get("learningRateMultiplier")
    hyperparameters = {
        "n_epochs": epochs or "auto",
        "learning_rate_multiplier": float(multiplier) if multiplier is not None else "auto",
        "batch_size": "auto",
    }
    method_hyperparameters = dict(hyperparameters)
    if kind == "dpo":
        beta = hyper.get("beta")
        method_hyperparameters["beta"] = float(beta) if beta is not None else "auto"
    if hyper.get("adapterSize") in ADAPTER_SIZE_NUMBERS:
        method_hyperparameters["adapter_size"] = ADAPTER_SIZE_NUMBERS[hyper["adapterSize"]]
    tuned = data.get("tunedModel") or {}
    labels = without_gateway_id(data.get("labels") or None)
    if gateway_id_of(data.get("labels")):  # the gateway's tag never travels further
        data = {**data, "labels": labels}
    return RemoteJob(
        remote_id=data["name"],
        # A continued job has no baseModel: the model the user named (a tuned
        # model's endpoint or resource) stays as the gateway recorded it.
        model=data.get("baseModel") or "",
        status=status,
        raw_status=raw_status,
        terminal=terminal,
        created_at=unix_seconds(data.get("createTime")) or int(time.time()),
        finished_at=unix_seconds(data.get("endTime")) if terminal else None,
        training_file=spec.get("trainingDatasetUri"),
        validation_file=spec.get("validationDatasetUri"),
        fine_tuned_model=tuned.get("endpoint") or None,
        trained_tokens=_trained_tokens(data, status, epochs),
        hyperparameters=hyperparameters,
        method={"type": kind, kind: {"hyperparameters": method_hyperparameters}},
        error=_job_error(data.get("error")),
        organization_id=project,
        suffix=data.get("tunedModelDisplayName") or None,
        metadata=dict(labels) if labels else None,
        raw=data,
        notices=dataset_notices(data),
    )


def _trained_tokens(data: dict[str, Any], status: str, epochs: int | None) -> int | None:
    # OpenAI reports trained tokens once a job has succeeded (null before).
    if status != "succeeded":
        return None
    stats = _data_stats(data)
    billable = _int(stats.get("totalBillableTokenCount"))
    if billable is None:
        return None
    # The billable count is for one pass over the dataset; training costs it
    # once per epoch. Without the epoch count (Vertex chose it and did not
    # echo it) one pass is the only figure that is not a guess.
    return billable * epochs if epochs else billable


def _data_stats(data: dict[str, Any]) -> dict[str, Any]:
    """The job's dataset statistics, whichever tuning method produced them."""
    stats = data.get("tuningDataStats") or {}
    return (
        stats.get("supervisedTuningDataStats") or stats.get("preferenceOptimizationDataStats") or {}
    )


#: At most this many dropped examples are named in an event.
MAX_DROPPED_NAMED = 20


def dataset_notices(data: dict[str, Any]) -> list[RemoteEvent]:
    """What Vertex found in the training dataset, as events: the example
    and billable-token counts, and the examples it truncated or dropped with
    its reasons. Empty until Vertex has read the dataset."""
    stats = _data_stats(data)
    examples = _int(stats.get("tuningDatasetExampleCount"))
    billable = _int(stats.get("totalBillableTokenCount"))
    if examples is None and billable is None:
        return []
    facts = []
    if examples is not None:
        facts.append(f"{examples} example{'' if examples == 1 else 's'}")
    if billable is not None:
        facts.append(f"{billable} billable tokens per epoch")
    steps = _int(stats.get("tuningStepCount"))
    if steps:
        facts.append(f"{steps} tuning steps")
    stamp = unix_seconds(data.get("updateTime")) or int(time.time())
    counts = {
        "tuningDatasetExampleCount": examples,
        "totalBillableTokenCount": billable,
        "tuningStepCount": steps,
    }
    summary = {key: value for key, value in counts.items() if value is not None}
    notices = [
        RemoteEvent(
            id="vertex-dataset",
            created_at=stamp,
            level="info",
            message=f"Vertex AI read the training dataset: {', '.join(facts)}.",
            data=summary,
        )
    ]
    # Supervised stats name truncated examples; preference stats dropped ones.
    indices = stats.get("truncatedExampleIndices") or stats.get("droppedExampleIndices") or []
    reasons = stats.get("droppedExampleReasons") or []
    count = _int(stats.get("totalTruncatedExampleCount")) or max(len(indices), len(reasons))
    if count:
        named = []
        for position in range(min(max(len(indices), len(reasons)), MAX_DROPPED_NAMED)):
            index = indices[position] if position < len(indices) else None
            reason = reasons[position] if position < len(reasons) else None
            label = f"example {_int(index)}" if _int(index) is not None else "an example"
            named.append(f"{label}: {reason}" if reason else label)
        detail = f" ({'; '.join(named)})" if named else ""
        notices.append(
            RemoteEvent(
                id="vertex-dataset-dropped",
                created_at=stamp,
                level="warn",
                message=(
                    f"Vertex AI truncated or dropped {count} example{'' if count == 1 else 's'} "
                    f"of the training dataset{detail}."
                ),
                data={
                    "count": count,
                    "example_indices": [_int(i) for i in indices],
                    "reasons": list(reasons),
                },
            )
        )
    return notices


def _job_error(status: Any) -> dict[str, Any] | None:
    if not isinstance(status, dict) or not status:
        return None
    code = status.get("code")
    if isinstance(code, int) and 0 <= code < len(RPC_CODES):
        name = RPC_CODES[code]
    else:
        name = status.get("status") or (str(code) if code is not None else None)
    return {"code": name, "message": status.get("message") or "", "param": None}


def checkpoint_page(data: dict[str, Any], after: str | None, limit: int) -> Page:
    """``tunedModel.checkpoints`` as OpenAI checkpoints, newest first, paged
    by checkpoint id."""
    tuned = (data or {}).get("tunedModel") or {}
    # Checkpoints carry no time of their own; the job's last update is the
    # closest honest one.
    stamp = unix_seconds(data.get("updateTime")) or unix_seconds(data.get("createTime")) or 0
    items = []
    for raw in tuned.get("checkpoints") or []:
        step = _int(raw.get("step")) or 0
        epoch = _int(raw.get("epoch"))
        items.append(
            RemoteCheckpoint(
                id=f"ftckpt-{raw.get('checkpointId')}",
                created_at=stamp,
                fine_tuned_model_checkpoint=raw.get("endpoint") or "",
                step_number=step,
                metrics={"step": step, **({"epoch": epoch} if epoch is not None else {})},
            )
        )
    items.sort(key=lambda c: (c.step_number, c.metrics.get("epoch") or 0), reverse=True)
    if after:
        ids = [c.id for c in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return Page(items=items[:limit], has_more=len(items) > limit)
