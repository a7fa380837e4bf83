"""Azure OpenAI: OpenAI's API at another address, with Azure's quirks.

Two API families share one resource endpoint:

- dated versions (``api_version: "2024-10-21"``, the default):
  ``{api_base}/openai/<path>?api-version=2024-10-21``. A narrower API:
  no pause/resume, no ``method``/``integrations``/``metadata`` on a job, no
  ``expires_after`` on a file, and answers that differ from OpenAI's in
  small ways (see ``normalise_*``).
- ``api_version: v1``: ``{api_base}/openai/v1/<path>``, no ``api-version``
  query, and OpenAI's request and answer shapes.

Either way a resource key goes in the ``api-key`` header, never
``Authorization``; an entry signing in with Microsoft Entra ID (see
``entra.py``) sends ``Authorization: Bearer …`` and no ``api-key``.

Jobs may carry a training tier (``trainingType``); ``metadata`` is sent only
where the API version takes it (v1), and kept by the gateway either way.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ...errors import ProviderInputError, ProviderNotSupported
from ..data import TRAINING_TYPES, FileUpload, JobCreate, RemoteJob
from .entra import SIGN_IN_KEYS, EntraBearerAuth, build_credential, check_sign_in, sign_in_way
from .open_models import OPEN_MODEL_TIER, AzureOpenModel, azure_open_model
from .provider import OpenAIProvider

DEFAULT_API_VERSION = "2024-10-21"
V1 = "v1"
API_VERSION_RE = re.compile(r"^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$")
#: Azure job statuses that OpenAI calls "queued". "created" and "pending"
#: are the dated FineTuningState's words for a job not yet running;
#: "notRunning" shows up in Azure's own examples.
QUEUED_JOB_STATUSES = frozenset({"created", "pending", "notRunning"})
#: Azure file statuses of a file still being validated: OpenAI's "uploaded".
UPLOADED_FILE_STATUSES = frozenset({"pending", "running", "notRunning"})
#: The first dated API version that takes ``trainingType`` (Microsoft's
#: fine-tuning guide sends it with 2025-04-01-preview; 2024-10-21 has no such
#: field and would ignore it).
FIRST_TIERED_VERSION = "2025-04-01"
#: ``trainingType`` as each API family spells it (Microsoft's fine-tuning
#: guide and the azure-ai-projects SDK: "Standard", "GlobalStandard",
#: "developerTier"). Azure's REST specs do not list the field.
TRAINING_TYPE_SPELLINGS: dict[str, dict[str, str]] = {
    "dated": {
        "standard": "Standard",
        "globalStandard": "GlobalStandard",
        "developerTier": "developerTier",
    },
    V1: {
        "standard": "Standard",
        "globalStandard": "GlobalStandard",
        "developerTier": "developerTier",
    },
}
_TRAINING_TYPES_BY_LOWER = {name.lower(): name for name in TRAINING_TYPES}


def training_type_of(value: Any) -> str | None:
    """The gateway's spelling of a training tier given in any case, or None
    when the value is not one."""
    if not isinstance(value, str):
        return None
    return _TRAINING_TYPES_BY_LOWER.get(value.strip().lower())


def api_version_of(entry: dict[str, Any]) -> str:
    """The entry's api_version as a string. YAML reads an unquoted
    ``2024-10-21`` as a date; its ``str`` is the same text."""
    value = entry.get("api_version")
    return str(value).strip() if value not in (None, "") else DEFAULT_API_VERSION


class AzureProvider(OpenAIProvider):
    """Azure OpenAI, dated API versions or v1.

    Requests are OpenAI's, reshaped for dated versions; answers are brought
    back to OpenAI's shapes. Whatever a dated version cannot carry is
    refused with a 400 that names the field and points to ``api_version: v1``,
    never dropped.
    """

    kind = "azure"
    options = frozenset({"api_base", "api_version", "training_type"}) | SIGN_IN_KEYS
    required_options = frozenset({"api_base"})
    accepts_training_type = True
    #: Microsoft's fine-tuning guide: "We use low-rank adaptation (LoRA)".
    tuning_modes = frozenset({"lora"})

    def __init__(self, entry: dict[str, Any]):
        self.api_version = api_version_of(entry)
        self.sign_in = sign_in_way(entry)
        self.default_training_type = training_type_of(entry.get("training_type"))
        super().__init__(entry)
        credential = build_credential(entry)
        if credential is not None:
            self.client.session.auth = EntraBearerAuth(
                credential, self.name, secrets=(str(entry.get("client_secret") or ""),)
            )

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        version = api_version_of(entry)
        if not API_VERSION_RE.match(version):
            raise ValueError(
                f"key 'api_version' must be 'v1' or a dated version such as "
                f"'{DEFAULT_API_VERSION}', not {version!r}"
            )
        base = str(entry.get("api_base") or "")
        if not base.startswith(("https://", "http://")):
            raise ValueError(
                "key 'api_base' must be the resource endpoint, "
                "e.g. https://my-resource.openai.azure.com"
            )
        check_sign_in(entry)
        if entry.get("training_type") not in (None, ""):
            if training_type_of(entry["training_type"]) is None:
                raise ValueError(
                    f"key 'training_type' must be one of {', '.join(TRAINING_TYPES)} (any case)"
                )
            if not _takes_training_type(version):
                raise ValueError(
                    f"key 'training_type' needs api_version: v1 or a dated version from "
                    f"{FIRST_TIERED_VERSION}-preview on; {version} has no training tiers"
                )

    @property
    def is_v1(self) -> bool:
        return self.api_version == V1

    @property
    def forwards_uploads(self) -> bool:  # type: ignore[override]
        """The v1 API has OpenAI's Uploads API (``/openai/v1/uploads``, parts,
        complete, cancel: Microsoft's v1 REST reference); dated versions have
        it only in previews, so for them the gateway assembles the parts and
        uploads the whole."""
        return self.is_v1

    #: Azure retires fine-tuned deployments on its own schedule, not
    #: OpenAI's: no shipped dates (set them in ftproxy_settings.model_shutdowns).
    model_shutdowns: ClassVar[dict[str, str]] = {}

    @property
    def can_delete_models(self) -> bool:  # type: ignore[override]
        """``DELETE /openai/v1/models/{model}`` exists in the v1 API
        (Microsoft's Foundry REST reference, "Models - Delete a model"); the
        dated versions document no model deletion here (deployments are
        removed through Azure Resource Manager)."""
        return self.is_v1

    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        if not self.is_v1:
            raise self._needs_v1("Deleting fine-tuned models")
        super().delete_model(model, job_payload)

    @property
    def can_pause(self) -> bool:  # type: ignore[override]
        """Pause and resume exist in the v1 API only."""
        return self.is_v1

    # ---- transport ------------------------------------------------------
    def api_base(self) -> str:
        base = str(self.entry["api_base"]).rstrip("/")
        # api_base is the resource endpoint (as in LiteLLM), but people also
        # paste the SDK's base URL: accept both rather than build /openai/openai.
        for suffix in ("/openai/v1", "/openai"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return f"{base}/openai/v1" if self.is_v1 else f"{base}/openai"

    def auth_headers(self) -> dict[str, str]:
        if self.sign_in == "api_key":
            return {"api-key": str(self.api_key)}
        if self.sign_in == "azure_ad_token":
            return {"Authorization": f"Bearer {self.entry['azure_ad_token']}"}
        return {}  # a credential: EntraBearerAuth sets Authorization on each request

    def query_params(self) -> dict[str, str]:
        return {} if self.is_v1 else {"api-version": self.api_version}

    def _needs_v1(self, what: str, param: str | None = None) -> ProviderNotSupported:
        return ProviderNotSupported(
            f"{what} is not supported by azure api-version {self.api_version}; "
            f"use api_version: v1 for this provider entry.",
            provider=self.name,
            param=param,
        )

    # ---- request shaping --------------------------------------------------
    def upload_fields(self, upload: FileUpload) -> list[tuple[str, str]]:
        if not self.is_v1 and upload.expires_after:
            raise self._needs_v1("expires_after", "expires_after")
        return super().upload_fields(upload)

    @property
    def tags_jobs(self) -> bool:  # dated versions keep no job metadata
        return self.is_v1

    def job_body(self, job: JobCreate) -> dict[str, Any]:
        """OpenAI's body plus ``trainingType`` (the job's or the entry's
        default tier). For dated versions, reduced to FineTuningJobCreation
        (model, training_file, validation_file, hyperparameters, suffix, seed)."""
        body = super().job_body(job)
        open_model = azure_open_model(job.model)
        if open_model is not None:
            tier: str | None = self._open_model_tier(job, open_model)
        else:
            tier = job.training_type or self.default_training_type
        if tier:
            body["trainingType"] = self._spell_training_type(tier)
        if self.is_v1:
            return body
        # An empty list says nothing, so leaving it out loses nothing.
        if body.pop("integrations", None):
            raise self._needs_v1("'integrations' on a fine-tuning job", "integrations")
        method = body.pop("method", None)
        hyperparameters = dict(body.get("hyperparameters") or {})
        if method:
            hyperparameters = self._merge_method(method, hyperparameters)
        # Dated versions take numbers only; "auto" is what leaving a
        # hyperparameter out means, so it is left out rather than refused.
        hyperparameters = {k: v for k, v in hyperparameters.items() if v != "auto"}
        if hyperparameters:
            body["hyperparameters"] = hyperparameters
        else:
            body.pop("hyperparameters", None)
        return body

    def _open_model_tier(self, job: JobCreate, model: AzureOpenModel) -> str:
        """Global training, the only tier an open model trains on (sent even
        when the job names none); anything else is a 400 before sending."""
        kind = (job.method or {}).get("type") or "supervised"
        if kind != "supervised":
            raise ProviderInputError(
                f"Azure fine-tunes {model.name} with supervised fine-tuning only, not {kind!r}.",
                provider=self.name,
                param="method.type",
            )
        if not _takes_training_type(self.api_version):
            raise ProviderInputError(
                f"model {model.name!r} trains on Azure's Global training only, which azure "
                f"api-version {self.api_version} cannot ask for: use api_version: v1 or a dated "
                f"version from {FIRST_TIERED_VERSION}-preview on for the entry '{self.name}'.",
                provider=self.name,
                param="model",
            )
        if job.training_type and training_type_of(job.training_type) != OPEN_MODEL_TIER:
            raise ProviderInputError(
                f"model {model.name!r} trains on Global training only: trainingType must be "
                f"{OPEN_MODEL_TIER} (or left out), not {job.training_type!r}.",
                provider=self.name,
                param="trainingType",
            )
        if not job.training_type and self.default_training_type not in (None, OPEN_MODEL_TIER):
            raise ProviderInputError(
                f"model {model.name!r} trains on Global training only, and the entry "
                f"'{self.name}' trains on {self.default_training_type}: send trainingType "
                f"{OPEN_MODEL_TIER} with the job, or use another entry.",
                provider=self.name,
                param="model",
            )
        return OPEN_MODEL_TIER

    def _spell_training_type(self, tier: str) -> str:
        canonical = training_type_of(tier)
        if canonical is None:
            raise ProviderInputError(
                f"trainingType must be one of {', '.join(TRAINING_TYPES)}, not {tier!r}.",
                provider=self.name,
                param="trainingType",
            )
        if not _takes_training_type(self.api_version):
            raise ProviderNotSupported(
                f"trainingType (training tiers) is not supported by azure api-version "
                f"{self.api_version}; use api_version: v1 or a dated version from "
                f"{FIRST_TIERED_VERSION}-preview on for this provider entry.",
                provider=self.name,
                param="trainingType",
            )
        family = V1 if self.is_v1 else "dated"
        return TRAINING_TYPE_SPELLINGS[family][canonical]

    def _merge_method(
        self, method: dict[str, Any], hyperparameters: dict[str, Any]
    ) -> dict[str, Any]:
        """Flatten ``method.supervised.hyperparameters`` into top-level
        hyperparameters, the only way a dated version takes them."""
        kind = method.get("type") or "supervised"
        if kind != "supervised":
            raise self._needs_v1(f"Fine-tuning method '{kind}'", "method.type")
        extra = sorted(k for k, v in method.items() if k not in ("type", "supervised") and v)
        supervised = method.get("supervised") or {}
        extra += sorted(
            f"supervised.{k}" for k, v in supervised.items() if k != "hyperparameters" and v
        )
        if extra:
            raise self._needs_v1(f"'method.{extra[0]}'", f"method.{extra[0]}")
        from_method = supervised.get("hyperparameters") or {}
        for key, value in from_method.items():
            if key in hyperparameters and hyperparameters[key] != value:
                raise ProviderInputError(
                    f"hyperparameters.{key} and method.supervised.hyperparameters.{key} "
                    f"disagree; give it in one place.",
                    provider=self.name,
                    param=f"method.supervised.hyperparameters.{key}",
                )
        return {**hyperparameters, **from_method}

    # ---- answer normalisation ---------------------------------------------
    def normalise_file(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("status") in UPLOADED_FILE_STATUSES:
            data["status"] = "uploaded"
        return data

    def normalise_job(self, data: dict[str, Any]) -> dict[str, Any]:
        # Dated versions spell it the British way.
        if "organisation_id" in data and not data.get("organization_id"):
            data["organization_id"] = data.pop("organisation_id")
        return data

    def normalise_event(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("level") == "warning":
            data["level"] = "warn"
        return data

    def job_status(self, raw_status: str) -> str:
        return "queued" if raw_status in QUEUED_JOB_STATUSES else raw_status

    # ---- hooks a dated version lacks -------------------------------------
    def pause_job(self, remote_id: str) -> RemoteJob:
        """``POST fine_tuning/jobs/{id}/pause`` (v1 only)."""
        if not self.is_v1:
            raise self._needs_v1("Pausing fine-tuning jobs")
        return super().pause_job(remote_id)

    def resume_job(self, remote_id: str) -> RemoteJob:
        """``POST fine_tuning/jobs/{id}/resume`` (v1 only)."""
        if not self.is_v1:
            raise self._needs_v1("Resuming fine-tuning jobs")
        return super().resume_job(remote_id)


def _takes_training_type(version: str) -> bool:
    """Whether an API version has ``trainingType``: v1, or a dated version
    from FIRST_TIERED_VERSION on."""
    return version == V1 or version[:10] >= FIRST_TIERED_VERSION
