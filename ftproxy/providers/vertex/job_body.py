"""OpenAI's fine-tuning create body → a Vertex AI ``TuningJob``.

Every field reaches Vertex or is refused with a 400 naming it; ``metadata``
becomes labels under Vertex's label rules.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from ..base import JobCreate, ProviderInputError
from ..gateway_id import with_gateway_id

MAX_LABELS = 64
MAX_LABEL_CHARS = 63


def _bad(message: str, param: str) -> ProviderInputError:
    return ProviderInputError(message, param=param)


def tuning_job_body(job: JobCreate) -> dict[str, Any]:
    """The ``TuningJob`` JSON for an OpenAI create request; every field
    reaches Vertex or is refused with a 400 naming it."""
    if not isinstance(job.model, str) or not job.model:
        raise _bad("'model' is required (a Gemini base model, e.g. gemini-2.0-flash-001).", "model")
    if job.seed is not None:
        raise _bad("'seed' is not supported by Vertex AI tuning; omit it.", "seed")
    if job.integrations:
        raise _bad(
            "'integrations' are not supported by Vertex AI tuning; omit them.", "integrations"
        )
    spec: dict[str, Any] = {"trainingDatasetUri": _gs_uri(job.training_file, "training_file")}
    if job.validation_file:
        spec["validationDatasetUri"] = _gs_uri(job.validation_file, "validation_file")
    hyper = _hyper_parameters(job)
    if hyper:
        spec["hyperParameters"] = hyper
    body: dict[str, Any] = {"baseModel": job.model, "supervisedTuningSpec": spec}
    if job.suffix:
        body["tunedModelDisplayName"] = job.suffix
    labels = with_gateway_id(job.metadata, job.gateway_id)
    if labels:
        body["labels"] = labels_from_metadata(labels)
    return body


def _gs_uri(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value.startswith("gs://") or len(value) <= 5:
        raise _bad(f"'{param}' must be a file uploaded to Vertex AI (a Cloud Storage file).", param)
    return value


#: ``adapter_size`` values and Vertex's ``AdapterSize`` enum.
ADAPTER_SIZES = {
    1: "ADAPTER_SIZE_ONE",
    2: "ADAPTER_SIZE_TWO",
    4: "ADAPTER_SIZE_FOUR",
    8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN",
    32: "ADAPTER_SIZE_THIRTY_TWO",
}


def _hyper_parameters(job: JobCreate) -> dict[str, Any]:
    """Merge ``hyperparameters`` and ``method.supervised.hyperparameters``
    and translate them; remember where each came from for error messages."""
    given: dict[str, tuple[Any, str]] = {}
    for key, value in (job.hyperparameters or {}).items():
        given[key] = (value, f"hyperparameters.{key}")
    method = job.method or {}
    if method:
        kind = method.get("type", "supervised")
        if kind != "supervised":
            raise _bad(
                f"method type {kind!r} is not supported by Vertex AI; only 'supervised' "
                "tuning is available through this provider.",
                "method.type",
            )
        for key in sorted(set(method) - {"type", "supervised"}):
            raise _bad(f"'method.{key}' is not supported by Vertex AI tuning.", f"method.{key}")
        supervised = method.get("supervised") or {}
        for key in sorted(set(supervised) - {"hyperparameters"}):
            raise _bad(f"'method.supervised.{key}' is not supported.", f"method.supervised.{key}")
        for key, value in (supervised.get("hyperparameters") or {}).items():
            param = f"method.supervised.hyperparameters.{key}"
            if key in given and given[key][0] != value:
                raise _bad(f"'{param}' conflicts with '{given[key][1]}'.", param)
            given[key] = (value, param)

    result: dict[str, Any] = {}
    for key, (value, param) in given.items():
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
        elif key == "adapter_size":
            # A Vertex-only knob (the LoRA adapter's rank), accepted by the
            # gateway next to OpenAI's hyperparameters.
            if value not in ADAPTER_SIZES:
                sizes = ", ".join(str(size) for size in ADAPTER_SIZES)
                raise _bad(f"'{param}' must be one of {sizes} or 'auto'.", param)
            result["adapterSize"] = ADAPTER_SIZES[value]
        elif key == "batch_size":
            # Vertex picks the batch size for Gemini; adapterSize is the LoRA
            # rank, a different knob, so mapping one onto the other would lie.
            raise _bad(
                f"'{param}' has no Vertex AI equivalent (Vertex chooses the batch size); "
                "omit it or use 'auto'.",
                param,
            )
        else:
            raise _bad(f"'{param}' is not supported by Vertex AI supervised tuning.", param)
    return result


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
