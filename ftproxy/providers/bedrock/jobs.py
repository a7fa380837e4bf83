"""Bedrock model customization jobs in OpenAI's words, and back.

``job_request`` builds ``CreateModelCustomizationJob``'s parameters from a
``JobCreate`` (refusing, with a 400 naming the field, what Bedrock cannot
take); ``remote_job`` reads ``GetModelCustomizationJob``'s answer; ``events``
turns its ``statusDetails`` stages and metrics into job events.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from ...errors import ProviderFailure, ProviderInputError, ProviderNotSupported
from ..data import JobCreate, Page, RemoteEvent, RemoteJob
from ..gateway_id import GATEWAY_ID_KEY, RESERVED_PREFIX
from .catalog import bedrock_hyperparameters, family_of, model_id, openai_hyperparameters
from .storage import original_key, parse_s3_uri

#: Bedrock's word → (OpenAI's status, final). InProgress depends on the stage.
JOB_STATES: dict[str, tuple[str, bool]] = {
    "Completed": ("succeeded", True),
    "Failed": ("failed", True),
    "Stopping": ("cancelled", False),
    "Stopped": ("cancelled", True),
}
#: ``statusDetails`` stages in the order a job passes them.
STAGES = (
    ("validationDetails", "Validation"),
    ("dataProcessingDetails", "Data processing"),
    ("trainingDetails", "Training"),
)
_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")  # CustomModelName
_TAG = re.compile(r"^[a-zA-Z0-9\s._:/=+@-]*$")  # TagKey / TagValue
_TOKEN = re.compile(r"[^a-zA-Z0-9-]")  # outside IdempotencyToken's alphabet


def job_request(job: JobCreate, options: dict[str, Any], job_name: str) -> dict[str, Any]:
    """``CreateModelCustomizationJob``'s parameters for ``job``, named
    ``job_name`` (the gateway's job id), trained on the S3 URIs in ``job``."""
    method = job.method or {"type": "supervised"}
    if method.get("type") != "supervised":
        raise ProviderNotSupported(
            f"method.type {method.get('type')!r} is not supported on Bedrock entries "
            "(supervised fine-tuning only).",
        )
    for field, value in (("seed", job.seed), ("integrations", job.integrations)):
        if value:
            raise ProviderInputError(f"{field} is not supported by Bedrock.", param=field)
    family_of(job.model)
    top = job.hyperparameters or {}
    under_method = (method.get("supervised") or {}).get("hyperparameters") or {}
    for key, value in under_method.items():
        if key in top and top[key] != value:
            param = f"method.supervised.hyperparameters.{key}"
            raise ProviderInputError(
                f"{param} disagrees with hyperparameters.{key}; give one.", param=param
            )
    hyper = {**top, **under_method}
    suffix = job.suffix or ""
    if suffix and (len(suffix) > 38 or not _NAME.match(suffix)):
        raise ProviderInputError(
            "suffix must be at most 38 letters, digits, '-' or '_' (one at a time, not first) "
            "on Bedrock: it names the custom model.",
            param="suffix",
        )
    unique = job_name.rsplit("-", 1)[-1]
    params: dict[str, Any] = {
        "jobName": job_name,
        "customModelName": f"{suffix}-{unique}" if suffix else job_name,
        "roleArn": options["role_arn"],
        "clientRequestToken": _TOKEN.sub("-", job_name).strip("-")[:256],
        "baseModelIdentifier": job.model,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": job.training_file},
        "outputDataConfig": {"s3Uri": options["output_s3_uri"]},
        "hyperParameters": bedrock_hyperparameters(job.model, hyper),
        "jobTags": _tags(job.metadata, job_name),
    }
    if job.validation_file:
        params["validationDataConfig"] = {"validators": [{"s3Uri": job.validation_file}]}
    if options.get("vpc_config"):
        params["vpcConfig"] = options["vpc_config"]
    if options.get("kms_key_id"):
        params["customModelKmsKeyId"] = options["kms_key_id"]
    return params


def _tags(metadata: dict[str, str] | None, job_name: str) -> list[dict[str, str]]:
    """The user's metadata as job tags, plus the gateway's id."""
    tags = []
    for key, value in (metadata or {}).items():
        if key.startswith(RESERVED_PREFIX):
            raise ProviderInputError(f"metadata key {key!r} is reserved.", param="metadata")
        if not (_TAG.match(key) and _TAG.match(str(value))) or len(key) > 128 or len(value) > 256:
            raise ProviderInputError(
                f"metadata.{key} cannot be a Bedrock tag (letters, digits, spaces and "
                "'._:/=+@-' only; keys up to 128, values up to 256 characters).",
                param=f"metadata.{key}",
            )
        tags.append({"key": key, "value": str(value)})
    return [*tags, {"key": GATEWAY_ID_KEY, "value": job_name}]


def unix_seconds(value: Any) -> int | None:
    """A botocore timestamp (a datetime; naive means UTC) as Unix seconds."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _status(data: dict[str, Any]) -> tuple[str, bool]:
    raw = data.get("status") or ""
    if raw in JOB_STATES:
        return JOB_STATES[raw]
    details = data.get("statusDetails")
    if not details:
        # The service model documents statusDetails for distillation jobs;
        # without them InProgress cannot be told apart: the job is running.
        return "running", False
    training = (details.get("trainingDetails") or {}).get("status")
    # InProgress (or a word Bedrock adds later): training, or before it.
    return ("running" if training in ("InProgress", "Completed") else "validating_files"), False


def user_file(uri: str | None) -> str | None:
    """The user's file a job trained on (not the converted copy)."""
    if not uri:
        return None
    try:
        bucket, key = parse_s3_uri(uri)
    except ProviderInputError:
        return uri
    return f"s3://{bucket}/{original_key(key)}"


def remote_job(data: dict[str, Any], metadata: dict[str, str] | None = None) -> RemoteJob:
    """A ``GetModelCustomizationJob`` answer in OpenAI's vocabulary."""
    if not isinstance(data, dict) or not data.get("jobArn"):
        raise ProviderFailure("Bedrock answered without a customization job.")
    data = {k: v for k, v in data.items() if k != "ResponseMetadata"}
    status, terminal = _status(data)
    model = model_id(data.get("baseModelIdentifier") or data.get("baseModelArn") or "")
    hyper = openai_hyperparameters(model, data.get("hyperParameters"))
    validators = (data.get("validationDataConfig") or {}).get("validators") or [{}]
    error = None
    if data.get("status") == "Failed":
        message = data.get("failureMessage") or "The job failed."
        error = {"code": "failed", "message": message, "param": None}
    return RemoteJob(
        remote_id=data["jobArn"],
        model=model,
        status=status,
        raw_status=data.get("status") or "",
        terminal=terminal,
        created_at=unix_seconds(data.get("creationTime")) or int(time.time()),
        finished_at=unix_seconds(data.get("endTime")) if terminal else None,
        training_file=user_file((data.get("trainingDataConfig") or {}).get("s3Uri")),
        validation_file=user_file(validators[0].get("s3Uri")),
        fine_tuned_model=(data.get("outputModelArn") or None) if status == "succeeded" else None,
        hyperparameters=hyper,
        method={"type": "supervised", "supervised": {"hyperparameters": dict(hyper)}},
        error=error,
        metadata=metadata or None,
        raw=_jsonable(data),
    )


def _jsonable(value: Any) -> Any:
    """botocore's answer with its datetimes as ISO strings (for the ledger)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def job_events(data: dict[str, Any]) -> list[RemoteEvent]:
    """Events from the job's stages (one when a stage starts, one when it
    ends) and its metrics, newest first. Ids are derived from what they say,
    so an event reads the same each time."""
    events: list[RemoteEvent] = []
    details = data.get("statusDetails") or {}
    for key, label in STAGES:
        stage = details.get(key) or {}
        started = unix_seconds(stage.get("creationTime"))
        status = stage.get("status")
        if started is not None and status and status != "NotStarted":
            events.append(RemoteEvent(f"{key}-started", started, "info", f"{label} started."))
        changed = unix_seconds(stage.get("lastModifiedTime"))
        if status in ("Completed", "Failed", "Stopped") and changed is not None:
            level = "info" if status == "Completed" else ("error" if status == "Failed" else "warn")
            events.append(
                RemoteEvent(f"{key}-{status.lower()}", changed, level, f"{label} {status.lower()}.")
            )
    ended = unix_seconds(data.get("endTime"))
    if data.get("status") in JOB_STATES and JOB_STATES[data["status"]][1] and ended is not None:
        loss = (data.get("trainingMetrics") or {}).get("trainingLoss")
        if loss is not None:
            events.append(
                RemoteEvent(
                    "metrics-training", ended, "info", f"Training loss: {loss:g}.", "metrics",
                    {"train_loss": loss},
                )
            )  # fmt: skip
        for index, metric in enumerate(data.get("validationMetrics") or []):
            if metric.get("validationLoss") is not None:
                value = metric["validationLoss"]
                events.append(
                    RemoteEvent(
                        f"metrics-validation-{index}", ended, "info",
                        f"Validation loss: {value:g}.", "metrics", {"valid_loss": value},
                    )
                )  # fmt: skip
        if data["status"] == "Failed":
            message = data.get("failureMessage") or "The job failed."
            events.append(RemoteEvent("job-failed", ended, "error", message))
    order = {event.id: n for n, event in enumerate(events)}
    events.sort(key=lambda e: (e.created_at, order[e.id]), reverse=True)
    return events


def event_page(events: list[RemoteEvent], after: str | None, limit: int) -> Page:
    """A page of ``events`` (newest first) after the event ``after``."""
    if after is not None:
        ids = [event.id for event in events]
        events = events[ids.index(after) + 1 :] if after in ids else []
    return Page(items=events[:limit], has_more=len(events) > limit)
