"""Open-weight base models on Vertex AI's ``tuningJobs`` (Llama, Gemma, Qwen).

The same resource as Gemini tuning, with the fields Vertex keeps for open
models: ``supervisedTuningSpec.tuningMode`` (``TUNING_MODE_FULL`` or
``TUNING_MODE_PEFT_ADAPTER``, LoRA), ``hyperParameters.learningRate`` and
``batchSize`` (open models only; ``learningRateMultiplier`` is for Google's
own models), and ``outputUri``, the Cloud Storage folder the tuned weights
are written to, which open models require.

Sources (read December 2026): "Supervised and distillation fine-tuning for
open models" (docs.cloud.google.com/…/models/open-model-tuning) for the
models, their tuning modes, sequence lengths, regions and dataset formats;
the ``TuningJob`` REST reference for the fields.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from ...errors import ProviderInputError

FULL = "full"
LORA = "lora"
#: The gateway's word for a tuning mode → Vertex's ``TuningMode``.
TUNING_MODES = {FULL: "TUNING_MODE_FULL", LORA: "TUNING_MODE_PEFT_ADAPTER"}


@dataclass(frozen=True)
class OpenModel:
    """One open base model: the modes Vertex tunes it in and its longest
    training sequence (tokens)."""

    modes: frozenset[str]
    max_sequence_length: int


#: ``adapter_size`` values and Vertex's ``AdapterSize`` enum (the LoRA rank).
ADAPTER_SIZES = {
    1: "ADAPTER_SIZE_ONE",
    2: "ADAPTER_SIZE_TWO",
    4: "ADAPTER_SIZE_FOUR",
    8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN",
    32: "ADAPTER_SIZE_THIRTY_TWO",
}

_BOTH = frozenset({LORA, FULL})
_FULL_ONLY = frozenset({FULL})

#: The open models Vertex AI tunes with supervised fine-tuning, by the id
#: ``baseModel`` takes.
OPEN_MODELS: dict[str, OpenModel] = {
    "google/gemma3@gemma-3-1b-it": OpenModel(_FULL_ONLY, 8192),
    "google/gemma3@gemma-3-4b-it": OpenModel(_FULL_ONLY, 8192),
    "google/gemma3@gemma-3-12b-it": OpenModel(_FULL_ONLY, 8192),
    "google/gemma3@gemma-3-27b-it": OpenModel(_BOTH, 8192),
    "google/medgemma@medgemma-4b-it": OpenModel(_FULL_ONLY, 8192),
    "meta/llama3_1@llama-3.1-8b": OpenModel(_BOTH, 8192),
    "meta/llama3_1@llama-3.1-8b-instruct": OpenModel(_BOTH, 8192),
    "meta/llama3-2@llama-3.2-1b-instruct": OpenModel(_FULL_ONLY, 8192),
    "meta/llama3-2@llama-3.2-3b-instruct": OpenModel(_FULL_ONLY, 8192),
    "meta/llama3-3@llama-3.3-70b-instruct": OpenModel(_BOTH, 8192),
    "meta/llama4@llama-4-scout-17b-16e-instruct": OpenModel(frozenset({LORA}), 2048),
    "qwen/qwen3@qwen3-4b": OpenModel(_FULL_ONLY, 8192),
    "qwen/qwen3@qwen3-8b": OpenModel(_FULL_ONLY, 8192),
    "qwen/qwen3@qwen3-14b": OpenModel(_FULL_ONLY, 8192),
    "qwen/qwen3@qwen3-32b": OpenModel(_BOTH, 8192),
}
#: The regions that tune open models.
OPEN_MODEL_REGIONS = ("us-central1", "europe-west4", "us-west1", "us-east5", "asia-southeast1")
#: Hyperparameters an open-model job takes (``learning_rate`` and
#: ``tuning_mode`` are Vertex's own, accepted by name).
OPEN_HYPERPARAMETERS = frozenset(
    {"n_epochs", "batch_size", "learning_rate", "adapter_size", "tuning_mode"}
)
#: ``publisher/model`` or ``publisher/family@model``: an open model's id
#: (Gemini names have no ``/``; tuned models start with ``projects/``).
_OPEN_ID = re.compile(r"^(?!projects/|publishers/)[a-z0-9][a-z0-9_.-]*/[^/\s]+$")
_GCS_FOLDER = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^\s]*)?$")


def _bad(message: str, param: str) -> ProviderInputError:
    return ProviderInputError(message, param=param)


def is_open_model_id(model: Any) -> bool:
    """True when ``model`` is spelled as an open model's id (known or not)."""
    return isinstance(model, str) and bool(_OPEN_ID.match(model))


def open_model(model: str, location: str | None) -> OpenModel:
    """The catalogue entry of ``model``, or a 400 naming ``model`` when Vertex
    does not tune it or not in the entry's region."""
    found = OPEN_MODELS.get(model)
    if found is None:
        raise _bad(
            f"model {model!r} is not an open model Vertex AI tunes; open models: "
            f"{', '.join(OPEN_MODELS)}.",
            "model",
        )
    if location is not None and location not in OPEN_MODEL_REGIONS:
        raise _bad(
            f"model {model!r} cannot be tuned by this entry: Vertex AI tunes open models in "
            f"{', '.join(OPEN_MODEL_REGIONS)}, and the entry's vertex_location is {location!r}.",
            "model",
        )
    return found


def check_output_uri(value: Any) -> None:
    """ValueError unless ``value`` is a ``gs://bucket[/folder]`` URI."""
    if not isinstance(value, str) or not _GCS_FOLDER.match(value):
        raise ValueError("key 'tuning_output_uri' must be a Cloud Storage folder (gs://bucket/…)")


def output_uri(model: str, base: str | None, gateway_id: str | None) -> str:
    """The job's own folder under the entry's output location; a 400 naming
    ``model`` when the entry has none (Vertex requires one for open models)."""
    if not base:
        raise _bad(
            f"model {model!r} is an open model, and Vertex AI writes its tuned weights to Cloud "
            "Storage: set 'tuning_output_uri' (or 'gcs_bucket_name') on the vertex_ai entry.",
            "model",
        )
    return f"{base.rstrip('/')}/ftproxy-tuning/{gateway_id or uuid.uuid4().hex}"


def open_hyper_parameters(
    spec: OpenModel, given: dict[str, tuple[Any, str]]
) -> tuple[dict[str, Any], str]:
    """(``hyperParameters``, ``tuningMode``) from the merged hyperparameters
    (value, where it came from). The mode is ``tuning_mode`` when given, else
    LoRA where the model offers it, else full."""
    result: dict[str, Any] = {}
    for key, (_value, param) in given.items():
        if key not in OPEN_HYPERPARAMETERS:
            why = (
                " (Vertex takes a learning rate, not a multiplier, for open models: use "
                "'learning_rate')"
                if key == "learning_rate_multiplier"
                else ""
            )
            raise _bad(f"'{param}' is not supported for open models on Vertex AI{why}.", param)
    mode_value, mode_param = given.get("tuning_mode", (None, "hyperparameters.tuning_mode"))
    if mode_value in (None, "auto"):
        mode = LORA if LORA in spec.modes else FULL
    elif mode_value in TUNING_MODES:
        mode = mode_value
        if mode not in spec.modes:
            offered = " or ".join(sorted(spec.modes))
            raise _bad(f"'{mode_param}': this model is tuned with {offered} only.", mode_param)
    else:
        raise _bad(f"'{mode_param}' must be 'lora', 'full' or 'auto'.", mode_param)
    for key, (value, param) in given.items():
        if value is None or value == "auto" or key == "tuning_mode":
            continue
        if key in ("n_epochs", "batch_size"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _bad(f"'{param}' must be a positive integer or 'auto'.", param)
            result["epochCount" if key == "n_epochs" else "batchSize"] = value
        elif key == "learning_rate":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(f"'{param}' must be a positive number or 'auto'.", param)
            result["learningRate"] = float(value)
        elif mode != LORA:  # adapter_size
            raise _bad(f"'{param}' applies to LoRA tuning only; this job is full tuning.", param)
        elif value not in ADAPTER_SIZES:
            sizes = ", ".join(str(size) for size in ADAPTER_SIZES)
            raise _bad(f"'{param}' must be one of {sizes} or 'auto'.", param)
        else:
            result["adapterSize"] = ADAPTER_SIZES[value]
    return result, TUNING_MODES[mode]


def original_dataset_uri(uri: str, converted: bool) -> str:
    """The user's own upload beside a Gemini-format copy this gateway made
    (``…/<id>/gemini/<name>`` → ``…/<id>/<name>``): open models train on
    OpenAI chat JSONL as it is. Any other URI is kept."""
    if not converted:
        return uri
    head, _folder, name = uri.rsplit("/", 2)
    return f"{head}/{name}"
