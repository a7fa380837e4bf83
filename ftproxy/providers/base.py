"""The provider interface: what every upstream module implements.

A provider speaks one upstream's HTTP and nothing else. It takes and returns
the plain dataclasses below, never Django models, and raises only the
``ProviderError`` family. Ids in and out are the provider's own ("remote")
ids; the services map them to the public ids of the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from ..errors import ProviderNotSupported

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


# --------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------


#: Upstream read timeout when an entry sets none. Shorter than the OpenAI
#: SDK's own 600 s, so the gateway answers before a client gives up and
#: retries a create that may still be running.
DEFAULT_TIMEOUT_SECONDS = 300.0


class Provider:
    """One configured upstream entry (one item of ``finetune_settings`` or
    ``files_settings``).

    A subclass declares what its upstream is and can do in the class
    attributes below (the gateway asks them instead of comparing kind
    names), and implements the hooks it supports; a hook that an upstream
    lacks raises ``ProviderNotSupported``. The gateway finds the class by
    its ``kind`` among the classes named in ``FTPROXY["PROVIDER_CLASSES"]``.

    Instances are built once per configured entry and shared by all
    requests and threads: keep no per-request state on ``self``.
    """

    # ---- what it is ------------------------------------------------------
    #: The entry's kind: the value of ``custom_llm_provider`` in the config.
    kind: ClassVar[str] = ""
    #: The ``method.type`` values its jobs train with.
    training_methods: ClassVar[frozenset[str]] = frozenset({"supervised"})
    #: Which base models it trains: a model name carries over between
    #: entries of one family (Azure deploys OpenAI's models). Empty: its own.
    model_family: ClassVar[str] = ""
    #: Base models it trains, for messages that suggest one (first = default).
    example_models: ClassVar[tuple[str, ...]] = ()
    #: Hyperparameters it accepts besides OpenAI's (``n_epochs``,
    #: ``batch_size``, ``learning_rate_multiplier``, ``beta``).
    extra_hyperparameters: ClassVar[frozenset[str]] = frozenset()
    #: File references it takes in a job besides its own file ids (URI
    #: prefixes such as ``gs://``), forwarded as given for the master key.
    file_uri_prefixes: ClassVar[tuple[str, ...]] = ()

    # ---- its dataset rules (checked at job create, before going upstream) --
    #: The fewest training examples a job may have; None: no rule.
    min_training_examples: ClassVar[int | None] = None
    #: Most tokens in one training example, by base-model prefix (longest wins).
    example_token_limits: ClassVar[dict[str, int]] = {}

    # ---- what it can do ----------------------------------------------------
    #: True when jobs can be paused and resumed (else ``pause_job`` and
    #: ``resume_job`` raise ``ProviderNotSupported``, a 400).
    can_pause: ClassVar[bool] = False
    #: True when the upstream has an event feed (``list_job_events`` pages
    #: it); False: it answers None and the gateway's status history serves.
    lists_events: ClassVar[bool] = True
    #: True when the upstream lists a job's checkpoints.
    lists_checkpoints: ClassVar[bool] = True
    #: True when a succeeded job's ``result_files`` are ids of this
    #: provider's Files API, recorded in the ledger for its key to download.
    result_files_are_files: ClassVar[bool] = True
    #: True when the provider's ids are not usable as public ids (they
    #: contain "/", e.g. gs:// URIs or resource names): the gateway mints
    #: ``file-…`` / ``ftjob-…`` ids and keeps the remote one in the ledger.
    mints_ids: ClassVar[bool] = False
    #: True when jobs may carry a ``training_type`` (Azure's training tiers).
    accepts_training_type: ClassVar[bool] = False
    #: True when ``upload_file`` reads ``upload.stream`` once, front to back,
    #: into the body of one HTTP request with a Content-Length: a body cut
    #: short (the stream raising mid-way) is then never a file upstream, so
    #: the gateway may send a file while it still validates it.
    streams_uploads: ClassVar[bool] = False
    #: True when the upstream has an Uploads API of its own and the upload
    #: hooks forward to it. Otherwise the gateway assembles the parts on
    #: disk and sends the whole through ``upload_file`` when completed.
    forwards_uploads: ClassVar[bool] = False

    # ---- its configuration -------------------------------------------------
    #: Entry keys this provider accepts, besides COMMON_OPTIONS.
    options: ClassVar[frozenset[str]] = frozenset()
    #: Entry keys that must be present.
    required_options: ClassVar[frozenset[str]] = frozenset()

    COMMON_OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {"custom_llm_provider", "name", "timeout", "max_retries"}
    )

    def __init__(self, entry: dict[str, Any]):
        self.entry = entry
        #: The entry's name: what a request names (defaults to the kind).
        self.name: str = entry.get("name") or self.kind
        self.timeout: float = float(entry.get("timeout") or DEFAULT_TIMEOUT_SECONDS)
        self.max_retries: int = int(
            entry["max_retries"] if entry.get("max_retries") is not None else 2
        )

    def __repr__(self) -> str:  # never shows secrets
        return f"<{type(self).__name__} {self.name!r}>"

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """Validate provider-specific option values; raise ``ValueError``
        with a message naming the key (or ``EntryError(message, key=…)``).
        Unknown and missing keys are checked before (see ``ftproxy.checks``)."""

    @classmethod
    def takes_file_uri(cls, reference: str) -> bool:
        """Whether a job may name ``reference`` (not a gateway file id) as is."""
        return reference.startswith(cls.file_uri_prefixes)

    def _unsupported(self, what: str) -> ProviderNotSupported:
        return ProviderNotSupported(f"{what} is not supported by {self.kind}", provider=self.name)

    # ---- files --------------------------------------------------------
    def upload_file(self, upload: FileUpload) -> RemoteFile:
        """Upload ``upload.stream`` (streamed, not read whole)."""
        raise self._unsupported("Uploading files")

    def check_upload(self, upload: FileUpload) -> None:
        """Raise what ``upload_file`` would raise about the upload's options
        (purpose, expires_after, …), before any byte of it exists: an
        Upload refuses them at create rather than at complete. The default
        accepts everything."""

    def retrieve_file(self, remote_id: str) -> RemoteFile | None:
        """Fetch the file's current state, or return None when the ledger is
        authoritative for this provider (nothing to refresh)."""
        raise self._unsupported("Retrieving files")

    def delete_file(self, remote_id: str) -> None:
        """Delete the file upstream."""
        raise self._unsupported("Deleting files")

    def file_content(self, remote_id: str) -> FileContent:
        """Stream the file's bytes back, byte-exact."""
        raise self._unsupported("File content")

    # ---- uploads (OpenAI's Uploads API) --------------------------------
    def create_upload(self, upload: UploadCreate) -> RemoteUpload:
        """Open an upstream Upload (``forwards_uploads`` providers only)."""
        raise self._unsupported("Uploads")

    def add_upload_part(self, remote_id: str, stream: IO[bytes], size: int) -> str:
        """Send ``size`` bytes of ``stream`` (streamed) as one part; return
        the upstream part id."""
        raise self._unsupported("Uploads")

    def complete_upload(self, remote_id: str, part_ids: list[str], md5: str | None) -> RemoteUpload:
        """Complete the upstream Upload from its parts in this order; the
        answer carries the resulting file."""
        raise self._unsupported("Uploads")

    def cancel_upload(self, remote_id: str) -> RemoteUpload:
        """Cancel the upstream Upload."""
        raise self._unsupported("Uploads")

    def find_file(self, gateway_id: str, upload: FileUpload) -> RemoteFile | None:
        """The file uploaded with ``FileUpload.gateway_id`` (``upload`` says
        what was sent, without its bytes), or None when the provider proves
        there is none. Raise ``ProviderNotSupported`` when it cannot tell."""
        raise self._unsupported("Looking up uploads by the gateway's id")

    # ---- fine-tuning jobs --------------------------------------------
    def tuned_model_reference(self, model: str) -> str | None:
        """When ``model`` names a fine-tuned model by an upstream resource that
        the gateway must trace to the job that produced it (to continue tuning
        from it), the string under which that job's raw payload holds it;
        None for base models and names the upstream resolves itself. The
        gateway then passes the producing job's payload as
        ``JobCreate.source_job``."""
        return None

    def create_job(self, job: JobCreate) -> RemoteJob:
        """Create a job; every field of ``job`` must reach the upstream or be
        rejected with ProviderInputError / ProviderNotSupported."""
        raise self._unsupported("Creating fine-tuning jobs")

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """The job created with ``JobCreate.gateway_id``, or None when the
        provider proves there is none. Raise ``ProviderNotSupported`` when
        it cannot tell (the provider keeps no such tag)."""
        raise self._unsupported("Looking up jobs by the gateway's id")

    def check_job(self, job: JobCreate) -> None:
        """Raise the 400 that ``create_job`` would raise for what this
        upstream cannot take, without any HTTP call (the gateway asks before
        copying files for a job). The file references may be placeholders."""

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        raise self._unsupported("Retrieving fine-tuning jobs")

    def cancel_job(self, remote_id: str) -> RemoteJob:
        raise self._unsupported("Cancelling fine-tuning jobs")

    def pause_job(self, remote_id: str) -> RemoteJob:
        raise self._unsupported("Pausing fine-tuning jobs")

    def resume_job(self, remote_id: str) -> RemoteJob:
        raise self._unsupported("Resuming fine-tuning jobs")

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page | None:
        """A page of ``RemoteEvent``s, newest first as OpenAI returns them,
        or None when the gateway's own status history serves as the events."""
        raise self._unsupported("Listing fine-tuning events")

    def list_job_checkpoints(self, remote_id: str, after: str | None, limit: int) -> Page:
        """A page of ``RemoteCheckpoint``s, newest first."""
        raise self._unsupported("Listing fine-tuning checkpoints")
