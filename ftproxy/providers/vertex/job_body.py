"""OpenAI's fine-tuning create body → a Vertex AI ``TuningJob``.

Every field reaches Vertex or is refused with a 400 naming it; ``metadata``
becomes labels under Vertex's label rules. ``method`` ``supervised`` becomes
``supervisedTuningSpec`` and ``dpo`` ``preferenceOptimizationSpec``; a
``model`` naming a tuned model becomes ``preTunedModel`` (continued tuning).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ...errors import ProviderInputError
from ..data import JobCreate
from ..gateway_id import with_gateway_id
from .dataset import CHAT, PREFERENCE, converted_format
from .open_models import (
    ADAPTER_SIZES,
    OpenModel,
    check_output_uri,
    is_open_model_id,
    open_hyper_parameters,
    open_model,
    original_dataset_uri,
    output_uri,
)

MAX_LABELS = 64
MAX_LABEL_CHARS = 63


def _bad(message: str, param: str) -> ProviderInputError:
    return ProviderInputError(message, param=param)


#: OpenAI ``method.type`` → the TuningJob field of its tuning spec.
SPEC_FIELDS = {"supervised": "supervisedTuningSpec", "dpo": "preferenceOptimizationSpec"}
#: The dataset format each method trains on (see ``dataset.py``).
METHOD_FORMATS = {"supervised": CHAT, "dpo": PREFERENCE}
_MODEL_RESOURCE = re.compile(r"^projects/[^/]+/locations/[^/]+/models/[^/]+$")
_ENDPOINT_RESOURCE = re.compile(r"^projects/[^/]+/locations/[^/]+/endpoints/[^/]+$")


def tuning_job_body(
    job: JobCreate,
    options: dict[str, Any] | None = None,
    *,
    location: str | None = None,
    output_base: str | None = None,
) -> dict[str, Any]:
    """The ``TuningJob`` JSON for an OpenAI create request; every field
    reaches Vertex or is refused with a 400 naming it. ``options`` are the
    entry's job settings (``service_account``, ``encryption_kms_key``,
    ``export_last_checkpoint_only``), sent on every job. An open model
    (``open_models.py``) must be tunable in ``location`` and gets its own
    folder under ``output_base`` as ``outputUri``."""
    options = options or {}
    output_base = options.get("tuning_output_uri") or output_base
    if not isinstance(job.model, str) or not job.model:
        raise _bad("'model' is required (a Gemini base model, e.g. gemini-2.0-flash-001).", "model")
    if job.seed is not None:
        raise _bad("'seed' is not supported by Vertex AI tuning; omit it.", "seed")
    if job.integrations:
        raise _bad(
            "'integrations' are not supported by Vertex AI tuning; omit them.", "integrations"
        )
    kind = _method_kind(job)
    opened = open_model(job.model, location) if is_open_model_id(job.model) else None
    if opened is not None and kind != "supervised":
        raise _bad(
            f"method type {kind!r} is not available for open models on Vertex AI; 'supervised' is.",
            "method.type",
        )
    is_open = opened is not None
    spec: dict[str, Any] = {
        "trainingDatasetUri": _dataset_uri(job.training_file, "training_file", kind, is_open)
    }
    if job.validation_file:
        spec["validationDatasetUri"] = _dataset_uri(
            job.validation_file, "validation_file", kind, is_open
        )
    hyper, mode = _hyper_parameters(job, kind, opened)
    if hyper:
        spec["hyperParameters"] = hyper
    if mode:
        spec["tuningMode"] = mode
    if options.get("export_last_checkpoint_only") is not None:
        spec["exportLastCheckpointOnly"] = bool(options["export_last_checkpoint_only"])
    pre_tuned = pre_tuned_model(job.model, job.source_job)
    body: dict[str, Any] = {"preTunedModel": pre_tuned} if pre_tuned else {"baseModel": job.model}
    body[SPEC_FIELDS[kind]] = spec
    if opened is not None:
        body["outputUri"] = output_uri(job.model, output_base, job.gateway_id)
    if job.suffix:
        body["tunedModelDisplayName"] = job.suffix
    labels = with_gateway_id(job.metadata, job.gateway_id)
    if labels:
        body["labels"] = labels_from_metadata(labels)
    if options.get("service_account"):
        body["serviceAccount"] = options["service_account"]
    if options.get("encryption_kms_key"):
        body["encryptionSpec"] = {"kmsKeyName": options["encryption_kms_key"]}
    return body


#: Entry keys sent on every job of a fine-tuning entry.
JOB_OPTIONS = (
    "service_account",
    "encryption_kms_key",
    "export_last_checkpoint_only",
    "tuning_output_uri",
)
_SERVICE_ACCOUNT = re.compile(r"^[^@\s/]+@[^@\s/]+$")
_KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")


def check_job_options(entry: dict[str, Any]) -> None:
    """Check (and normalise) the job settings of a config entry; ValueError
    names the key. They only make sense where jobs are created."""
    present = [key for key in JOB_OPTIONS if entry.get(key) is not None]
    if present and entry.get("api") == "files_settings":
        raise ValueError(
            f"key {present[0]!r} applies to tuning jobs; set it on the vertex_ai entry in "
            "finetune_settings"
        )
    account = entry.get("service_account")
    if account is not None and (
        not isinstance(account, str) or not _SERVICE_ACCOUNT.match(account)
    ):
        raise ValueError("key 'service_account' must be a service account email (name@project…)")
    key = entry.get("encryption_kms_key")
    if key is not None and (not isinstance(key, str) or not _KMS_KEY.match(key)):
        raise ValueError(
            "key 'encryption_kms_key' must be a Cloud KMS key name "
            "(projects/…/locations/…/keyRings/…/cryptoKeys/…)"
        )
    if entry.get("tuning_output_uri") is not None:
        check_output_uri(entry["tuning_output_uri"])
    flag = entry.get("export_last_checkpoint_only")
    if isinstance(flag, str) and flag.strip().lower() in ("true", "false"):
        flag = entry["export_last_checkpoint_only"] = flag.strip().lower() == "true"
    if flag is not None and not isinstance(flag, bool):
        raise ValueError("key 'export_last_checkpoint_only' must be true or false")


def tuned_model_reference(model: Any) -> str | None:
    """``model`` when it names a tuned model (an endpoint or a ``Model``
    resource), else None (a base model)."""
    if not isinstance(model, str):
        return None
    if _ENDPOINT_RESOURCE.match(model) or _MODEL_RESOURCE.match(model.split("@", 1)[0]):
        return model
    return None


def pre_tuned_model(model: str, source_job: dict[str, Any] | None) -> dict[str, Any] | None:
    """``preTunedModel`` when ``model`` names a tuned model, else None.

    Vertex continues from a tuned ``Model`` resource (``projects/…/models/…``,
    optionally ``@version``) and, optionally, one of its checkpoints. The
    gateway answers with endpoints (what you call), so an endpoint is looked
    up in the earlier job's payload (``source_job``): the tuned model's own
    endpoint means its default checkpoint; a checkpoint's endpoint (as the
    checkpoints list gives it in ``fine_tuned_model_checkpoint``) means that
    checkpoint."""
    if _MODEL_RESOURCE.match(model.split("@", 1)[0]):
        return {"tunedModelName": model}
    if not _ENDPOINT_RESOURCE.match(model):
        return None  # a base model: Vertex judges the name
    tuned = (source_job or {}).get("tunedModel") or {}
    name = tuned.get("model")
    if name:
        for checkpoint in tuned.get("checkpoints") or []:
            if checkpoint.get("endpoint") == model and checkpoint.get("checkpointId"):
                return {"tunedModelName": name, "checkpointId": str(checkpoint["checkpointId"])}
        if tuned.get("endpoint") == model:
            return {"tunedModelName": name}
    raise _bad(
        f"model {model!r} is an endpoint, but not the fine-tuned model or a checkpoint of a "
        "Vertex AI job of yours that this gateway knows; to continue tuning, name a job's "
        "'fine_tuned_model', a checkpoint's 'fine_tuned_model_checkpoint', or a tuned model "
        "resource (projects/…/locations/…/models/…).",
        "model",
    )


def _method_kind(job: JobCreate) -> str:
    method = job.method or {}
    kind = method.get("type", "supervised") if method else "supervised"
    if kind not in SPEC_FIELDS:
        raise _bad(
            f"method type {kind!r} is not supported by Vertex AI; 'supervised' and 'dpo' "
            "tuning are available through this provider.",
            "method.type",
        )
    for key in sorted(set(method) - {"type", kind}):
        raise _bad(f"'method.{key}' is not supported by Vertex AI tuning.", f"method.{key}")
    return kind


def _dataset_uri(value: Any, param: str, kind: str, is_open: bool = False) -> str:
    if not isinstance(value, str) or not value.startswith("gs://") or len(value) <= 5:
        raise _bad(f"'{param}' must be a file uploaded to Vertex AI (a Cloud Storage file).", param)
    uri = value
    held = converted_format(uri)
    if held is not None and held != METHOD_FORMATS[kind]:
        wanted = "preference (DPO)" if kind == "dpo" else "chat"
        raise _bad(
            f"'{param}' holds {held} examples; a {kind} job needs a file of {wanted} examples.",
            param,
        )
    return original_dataset_uri(uri, held is not None) if is_open else uri


#: Hyperparameters each method accepts (besides OpenAI's ``batch_size``,
#: which Vertex does not take).
METHOD_HYPERPARAMETERS = {
    "supervised": frozenset({"n_epochs", "learning_rate_multiplier", "adapter_size"}),
    "dpo": frozenset({"n_epochs", "learning_rate_multiplier", "adapter_size", "beta"}),
}


def _hyper_parameters(
    job: JobCreate, kind: str, opened: OpenModel | None
) -> tuple[dict[str, Any], str | None]:
    """Merge ``hyperparameters`` and ``method.<kind>.hyperparameters`` and
    translate them; remember where each came from for error messages. The
    second item is the ``tuningMode`` of an open model (None for Gemini)."""
    given: dict[str, tuple[Any, str]] = {}
    for key, value in (job.hyperparameters or {}).items():
        given[key] = (value, f"hyperparameters.{key}")
    section = (job.method or {}).get(kind) or {}
    for key in sorted(set(section) - {"hyperparameters"}):
        raise _bad(f"'method.{kind}.{key}' is not supported.", f"method.{kind}.{key}")
    for key, value in (section.get("hyperparameters") or {}).items():
        param = f"method.{kind}.hyperparameters.{key}"
        if key in given and given[key][0] != value:
            raise _bad(f"'{param}' conflicts with '{given[key][1]}'.", param)
        given[key] = (value, param)
    if opened is not None:
        return open_hyper_parameters(opened, given)

    result: dict[str, Any] = {}
    for key, (value, param) in given.items():
        if key not in METHOD_HYPERPARAMETERS[kind] | {"batch_size"}:
            label = "supervised" if kind == "supervised" else "preference (DPO)"
            raise _bad(f"'{param}' is not supported by Vertex AI {label} tuning.", param)
        if value is None or value == "auto":
            continue  # Vertex chooses, as OpenAI's "auto" asks
        if key == "n_epochs":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _bad(f"'{param}' must be a positive integer or 'auto'.", param)
            result["epochCount"] = value
        elif key == "learning_rate_multiplier":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(f"'{param}' must be a positive number or 'auto'.", param)
            result["learningRateMultiplier"] = float(value)
        elif key == "beta":
            # DPO's KL-penalty weight; Vertex recommends 0.01-0.5, and 0 stops learning.
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(f"'{param}' must be a positive number or 'auto'.", param)
            result["beta"] = float(value)
        elif key == "adapter_size":
            # A Vertex-only knob (the LoRA adapter's rank), accepted by the
            # gateway next to OpenAI's hyperparameters.
            if value not in ADAPTER_SIZES:
                sizes = ", ".join(str(size) for size in ADAPTER_SIZES)
                raise _bad(f"'{param}' must be one of {sizes} or 'auto'.", param)
            result["adapterSize"] = ADAPTER_SIZES[value]
        else:  # batch_size
            # Vertex picks the batch size for Gemini; adapterSize is the LoRA
            # rank, a different knob, so mapping one onto the other would lie.
            raise _bad(
                f"'{param}' has no Vertex AI equivalent (Vertex chooses the batch size); "
                "omit it or use 'auto'.",
                param,
            )
    return result, None


def labels_from_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """OpenAI ``metadata`` as Vertex labels, which are stricter: at most 64,
    keys and values of at most 63 lowercase letters (international ones
    too), digits, ``_`` and ``-``, keys starting with a letter. Refused, not
    rewritten, so the metadata read back is the metadata sent."""
    if len(metadata) > MAX_LABELS:
        raise _bad(f"Vertex AI allows at most {MAX_LABELS} metadata keys (labels).", "metadata")
    for key, value in metadata.items():
        param = f"metadata.{key}"
        if not isinstance(key, str) or not key or not _label_text(key) or not _is_letter(key[0]):
            raise _bad(
                f"metadata key {key!r} is not a valid Vertex AI label key: up to "
                f"{MAX_LABEL_CHARS} lowercase letters, digits, '_' or '-', starting with a letter.",
                param,
            )
        if not isinstance(value, str) or not (value == "" or _label_text(value)):
            raise _bad(
                f"metadata value of {key!r} is not a valid Vertex AI label value: up to "
                f"{MAX_LABEL_CHARS} lowercase letters, digits, '_' or '-'.",
                param,
            )
    return dict(metadata)


def _is_letter(char: str) -> bool:
    # Google's label grammar: \p{Ll} (lowercase) or \p{Lo} (caseless, e.g. CJK).
    return unicodedata.category(char) in ("Ll", "Lo")


def _label_text(text: str) -> bool:
    return len(text) <= MAX_LABEL_CHARS and all(
        _is_letter(c) or unicodedata.category(c).startswith("N") or c in "_-" for c in text
    )
