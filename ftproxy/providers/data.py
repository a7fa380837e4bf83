"""The plain data a provider takes and returns: OpenAI's vocabulary in
dataclasses, never Django models. Ids are the provider's own ("remote")
ids; the services map them to the public ids of the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

# --------------------------------------------------------------------------
# Data in
# --------------------------------------------------------------------------


@dataclass
class FileUpload:
    """A file to upload. ``stream`` is a seekable binary file (spooled to disk
    for large uploads); providers must stream from it, never read it whole."""

    filename: str
    purpose: str
    stream: IO[bytes]
    size: int
    content_type: str = "application/octet-stream"
    expires_after: dict[str, Any] | None = None
    #: The ledger row's public id, kept with the upload where the provider
    #: can (an object path, a record), so ``find_file`` can find it later.
    gateway_id: str | None = None


#: Azure OpenAI's training tiers (``trainingType``), in the gateway's
#: spelling; each provider entry sends them in its api-version's spelling.
TRAINING_TYPES = ("standard", "globalStandard", "developerTier")


@dataclass
class JobCreate:
    """A fine-tuning job to create. ``training_file`` and ``validation_file``
    are *remote* references (the provider's file id, or a ``gs://`` URI).
    ``training_type`` is one of ``TRAINING_TYPES``, only for providers whose
    ``accepts_training_type`` is true."""

    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    suffix: str | None = None
    seed: int | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    training_type: str | None = None
    #: The raw payload of the earlier job (found in the ledger) whose
    #: fine-tuned model or checkpoint ``model`` names (see
    #: ``Provider.tuned_model_reference``), so the provider can name what its
    #: upstream continues from.
    source_job: dict[str, Any] | None = None

    #: The ledger row's public id, sent upstream where the provider keeps
    #: one (see ``gateway_id``), so ``find_job`` can find the job later.
    gateway_id: str | None = None


@dataclass
class UploadCreate:
    """An upstream Upload to open (OpenAI's ``POST /uploads``)."""

    filename: str
    purpose: str
    bytes: int
    mime_type: str
    expires_after: dict[str, Any] | None = None


# --------------------------------------------------------------------------
# Data out
# --------------------------------------------------------------------------


@dataclass
class RemoteFile:
    """A file as the provider describes it, in OpenAI's vocabulary."""

    remote_id: str
    filename: str
    purpose: str
    bytes: int | None
    created_at: int
    status: str = "processed"
    status_details: str | None = None
    expires_at: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteUpload:
    """An upstream Upload; ``file`` is set once it is completed."""

    remote_id: str
    status: str
    expires_at: int | None = None
    file: RemoteFile | None = None
    raw: dict[str, Any] = field(default_factory=dict)


#: The fields of OpenAI's fine-tuning job object, in the order the gateway
#: answers them: the ledger keeps each, and the API's job shape
#: (``api.shapes.FineTuningJob``, held to this list by a test) writes them.
#: Anything else a provider answers is passed on as it came
#: (``RemoteJob.upstream_fields``).
JOB_FIELDS = (
    "id",
    "object",
    "created_at",
    "error",
    "fine_tuned_model",
    "finished_at",
    "hyperparameters",
    "model",
    "organization_id",
    "result_files",
    "seed",
    "status",
    "trained_tokens",
    "training_file",
    "validation_file",
    "estimated_finish",
    "integrations",
    "metadata",
    "method",
)


@dataclass
class RemoteJob:
    """A fine-tuning job in OpenAI's vocabulary.

    ``status`` is one of OpenAI's statuses (plus ``paused``); ``raw_status`` is
    the provider's own word for it, kept in the ledger. ``training_file`` and
    ``validation_file`` are remote references. ``terminal`` says whether
    ``raw_status`` is truly final (nothing will change it any more).
    ``upstream_fields`` are the answer's fields the gateway does not shape
    (e.g. ``user_provided_suffix``, ``usage_metrics``, Azure's
    ``trainingType``), as the provider sent them, to be passed on.
    """

    remote_id: str
    model: str
    status: str
    raw_status: str
    created_at: int
    terminal: bool = False
    training_file: str | None = None
    validation_file: str | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    estimated_finish: int | None = None
    trained_tokens: int | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    organization_id: str = ""
    result_files: list[str] = field(default_factory=list)
    seed: int | None = None
    suffix: str | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    upstream_fields: dict[str, Any] = field(default_factory=dict)
    #: Facts found in the answer that belong in the job's events (e.g. what
    #: the upstream found in the dataset); the service records each once.
    notices: list[RemoteEvent] = field(default_factory=list)


@dataclass
class RemoteEvent:
    """One ``fine_tuning.job.event``."""

    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None


@dataclass
class RemoteCheckpoint:
    """One ``fine_tuning.job.checkpoint``. ``fine_tuning_job_id`` is filled
    in by the service with the public job id."""

    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    step_number: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """One page of a provider list: items in the provider's order and
    whether more follow."""

    items: list[Any]
    has_more: bool = False


@dataclass
class FileContent:
    """File bytes streamed back. Iterate ``chunks``; call ``close`` when done
    (the API layer does, also when the client goes away)."""

    chunks: Iterator[bytes]
    content_type: str = "application/octet-stream"
    length: int | None = None
    close: Any = None
