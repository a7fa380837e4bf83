"""The provider interface: what every upstream module implements.

A provider speaks one upstream's HTTP and nothing else. It takes and returns
the plain dataclasses of ``data``, never Django models, and raises only the
``ProviderError`` family. Ids in and out are the provider's own ("remote")
ids; the services map them to the public ids of the ledger.
"""

from __future__ import annotations

from typing import IO, Any, ClassVar

from ..errors import ProviderNotSupported
from .data import (
    FileContent,
    FileUpload,
    JobCreate,
    Page,
    RemoteFile,
    RemoteJob,
    RemoteUpload,
    UploadCreate,
)

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
    #: How its jobs train the weights: "lora" (adapters) and/or "full";
    #: empty when the upstream does not say.
    tuning_modes: ClassVar[frozenset[str]] = frozenset()
    #: True when ``model`` may name a model tuned on it (or a checkpoint) to
    #: continue training from it.
    continues_training: ClassVar[bool] = False
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

    #: True when the upstream deletes fine-tuned models (``delete_model``);
    #: False: ``DELETE /v1/models/{model}`` is a 400 saying what to do.
    can_delete_models: ClassVar[bool] = False
    #: When its fine-tuned models shut down, by base model (ISO dates; keys
    #: matched as ``ftproxy.pricing`` matches prices), with the source in
    #: the module that defines it. ``ftproxy_settings.model_shutdowns``
    #: overrides it.
    model_shutdowns: ClassVar[dict[str, str]] = {}

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

    # ---- fine-tuned models ---------------------------------------------
    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """Delete the fine-tuned ``model`` (the job's ``fine_tuned_model``)
        upstream; ``job_payload`` is the producing job's raw payload, for
        upstreams whose model resource is not the name served. Raise
        ``ProviderNotFound`` when the upstream has no such model."""
        raise self._unsupported("Deleting fine-tuned models")
