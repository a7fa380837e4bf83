"""Request validation in OpenAI's terms. Unknown fields are rejected, never
dropped, so a typo cannot silently change what a job does."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ..conf import provider_classes
from ..providers.data import TRAINING_TYPES

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
ROLES_OF_METHODS = ("supervised", "dpo", "reinforcement")


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not declare."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                raise serializers.ValidationError(
                    {extra[0]: [f"Unrecognized request argument supplied: {extra[0]}"]}
                )
        return super().to_internal_value(data)


def _finite(number: int | float) -> bool:
    """Finite, and within a float's range (JSON integers have no bound)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


@extend_schema_field({"oneOf": [{"type": "string", "enum": ["auto"]}, {"type": "number"}]})
class AutoOrNumber(serializers.Field):
    """``"auto"`` or a number within bounds (OpenAI's hyperparameter values)."""

    def __init__(
        self,
        *,
        minimum: float,
        maximum: float | None = None,
        integer: bool = False,
        exclusive_minimum: bool = False,
        **kwargs: Any,
    ):
        self.minimum, self.maximum = minimum, maximum
        self.integer, self.exclusive_minimum = integer, exclusive_minimum
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if data == "auto":
            return data
        if isinstance(data, bool) or not isinstance(data, int | float) or not _finite(data):
            self.fail_with("must be 'auto' or a finite number")
        if self.integer and not float(data).is_integer():
            self.fail_with("must be 'auto' or a whole number")
        too_low = data <= self.minimum if self.exclusive_minimum else data < self.minimum
        if too_low or (self.maximum is not None and data > self.maximum):
            low = f"> {self.minimum:g}" if self.exclusive_minimum else f">= {self.minimum:g}"
            high = f" and <= {self.maximum:g}" if self.maximum is not None else ""
            self.fail_with(f"must be 'auto' or a number {low}{high}")
        return int(data) if self.integer else data

    def to_representation(self, value: Any) -> Any:
        return value

    def fail_with(self, message: str) -> None:
        raise serializers.ValidationError(message)


def provider_hyperparameters() -> frozenset[str]:
    """Hyperparameters some configured provider class takes besides
    OpenAI's (``Provider.extra_hyperparameters``)."""
    return frozenset(
        key for cls in provider_classes().values() for key in cls.extra_hyperparameters
    )


class HyperparametersSerializer(StrictSerializer):
    """OpenAI's hyperparameters, plus those a configured provider class
    declares as its own: those pass as sent, for the entry's provider to
    check (and the job service to refuse on entries of other kinds)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)
        extra = provider_hyperparameters() - set(self.fields)
        own = {key: value for key, value in data.items() if key in extra}
        rest = {key: value for key, value in data.items() if key not in extra}
        return {**super().to_internal_value(rest), **own}

    batch_size = AutoOrNumber(minimum=1, maximum=256, integer=True, required=False)
    learning_rate_multiplier = AutoOrNumber(minimum=0, exclusive_minimum=True, required=False)
    n_epochs = AutoOrNumber(minimum=1, maximum=50, integer=True, required=False)
    #: Vertex AI only (LoRA adapter size: 1, 2, 4, 8, 16 or 32); other
    #: providers are sent it and answer for themselves.
    adapter_size = AutoOrNumber(minimum=1, maximum=32, integer=True, required=False)


class DpoHyperparametersSerializer(HyperparametersSerializer):
    beta = AutoOrNumber(minimum=0, maximum=2, exclusive_minimum=True, required=False)


class ReinforcementHyperparametersSerializer(HyperparametersSerializer):
    reasoning_effort = serializers.ChoiceField(
        choices=["default", "low", "medium", "high"], required=False
    )
    compute_multiplier = AutoOrNumber(minimum=0, exclusive_minimum=True, required=False)
    eval_interval = AutoOrNumber(minimum=1, integer=True, required=False)
    eval_samples = AutoOrNumber(minimum=1, integer=True, required=False)


class SupervisedMethodSerializer(StrictSerializer):
    hyperparameters = HyperparametersSerializer(required=False)


class DpoMethodSerializer(StrictSerializer):
    hyperparameters = DpoHyperparametersSerializer(required=False)


class ReinforcementMethodSerializer(StrictSerializer):
    grader = serializers.DictField()
    hyperparameters = ReinforcementHyperparametersSerializer(required=False)
    response_format = serializers.DictField(required=False, allow_null=True)


class MethodSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=ROLES_OF_METHODS)
    supervised = SupervisedMethodSerializer(required=False)
    dpo = DpoMethodSerializer(required=False)
    reinforcement = ReinforcementMethodSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == "reinforcement" and "reinforcement" not in attrs:
            raise serializers.ValidationError(
                {"reinforcement": ["is required when type is 'reinforcement' (grader)"]}
            )
        others = [m for m in ROLES_OF_METHODS if m != attrs["type"] and m in attrs]
        if others:
            raise serializers.ValidationError(
                {others[0]: [f"does not match method type {attrs['type']!r}"]}
            )
        return attrs


class WandbSerializer(StrictSerializer):
    project = serializers.CharField()
    name = serializers.CharField(required=False, allow_null=True)
    entity = serializers.CharField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)


class IntegrationSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["wandb"])
    wandb = WandbSerializer()


#: OpenAI allows 16; the gateway's job id takes one (see providers.gateway_id).
MAX_METADATA_PAIRS = 15
#: Metadata keys of the gateway's own (``ftproxy_job_id``).
RESERVED_PREFIX = "ftproxy_"


def validate_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise serializers.ValidationError("must be an object of string keys and values")
    if len(value) > MAX_METADATA_PAIRS:
        raise serializers.ValidationError(
            f"may have at most {MAX_METADATA_PAIRS} key-value pairs (OpenAI's 16, less the "
            "one the gateway uses for its own job id)"
        )
    for key, item in value.items():
        if key.startswith(RESERVED_PREFIX):
            raise serializers.ValidationError(
                f"keys starting with {RESERVED_PREFIX!r} are reserved for the gateway"
            )
        if len(key) > 64:
            raise serializers.ValidationError(f"key {key[:20]!r}… is longer than 64 characters")
        if not isinstance(item, str):
            raise serializers.ValidationError(f"value of {key!r} must be a string")
        if len(item) > 512:
            raise serializers.ValidationError(f"value of {key!r} is longer than 512 characters")
    return value


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "string"}, "nullable": True}
)
class MetadataField(serializers.Field):
    def to_internal_value(self, data: Any) -> Any:
        return validate_metadata(data)

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "string", "enum": list(TRAINING_TYPES), "nullable": True})
class TrainingTypeField(serializers.Field):
    """Azure's training tier, matched case-insensitively; the gateway's spelling."""

    by_lower = {name.lower(): name for name in TRAINING_TYPES}

    def to_internal_value(self, data: Any) -> Any:
        tier = self.by_lower.get(data.strip().lower()) if isinstance(data, str) else None
        if tier is None:
            raise serializers.ValidationError(
                f"must be one of {', '.join(TRAINING_TYPES)} (any case)"
            )
        return tier

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Supervised, on the sandbox entry",
            {
                "model": "gpt-4o-mini-2024-07-18",
                "training_file": "file-5f0c9e2a7b1d4c3e8a6b2d1f0e9c8b7a",
                "suffix": "support",
                "seed": 7,
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"n_epochs": 3}},
                },
                "metadata": {"team": "support"},
                "custom_llm_provider": "sandbox",
            },
            request_only=True,
        )
    ]
)
class JobCreateSerializer(StrictSerializer):
    """``POST /fine_tuning/jobs``: OpenAI's CreateFineTuningJobRequest."""

    model = serializers.CharField(max_length=300)
    training_file = serializers.CharField(max_length=500)
    validation_file = serializers.CharField(max_length=500, required=False, allow_null=True)
    hyperparameters = HyperparametersSerializer(required=False, allow_null=True)
    method = MethodSerializer(required=False, allow_null=True)
    suffix = serializers.CharField(min_length=1, max_length=64, required=False, allow_null=True)
    seed = serializers.IntegerField(
        min_value=0, max_value=2147483647, required=False, allow_null=True
    )
    integrations = IntegrationSerializer(many=True, required=False, allow_null=True)
    metadata = MetadataField(required=False, allow_null=True)
    #: Azure OpenAI's training tier; also accepted as ``training_type``.
    trainingType = TrainingTypeField(required=False, allow_null=True)  # noqa: N815
    training_type = TrainingTypeField(required=False, allow_null=True)
    custom_llm_provider = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Keep exactly what the client sent for nested objects (validated above).
        for name in ("hyperparameters", "method", "integrations", "metadata"):
            if name in self.initial_data:
                attrs[name] = self.initial_data[name]
        camel, snake = attrs.pop("trainingType", None), attrs.pop("training_type", None)
        if camel and snake and camel != snake:
            raise serializers.ValidationError(
                {"trainingType": [f"disagrees with training_type ({snake!r}); give one"]}
            )
        if camel or snake:
            attrs["training_type"] = camel or snake
        return attrs


class FileCreateSerializer(StrictSerializer):
    """``POST /files`` (multipart)."""

    file = serializers.FileField(allow_empty_file=True)
    purpose = serializers.ChoiceField(choices=FILE_PURPOSES)
    custom_llm_provider = serializers.CharField(required=False)
    expires_after_anchor = serializers.ChoiceField(choices=["created_at"], required=False)
    expires_after_seconds = serializers.IntegerField(
        min_value=3600, max_value=2592000, required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("expires_after_anchor" in attrs) != ("expires_after_seconds" in attrs):
            raise serializers.ValidationError(
                {"expires_after": ["needs both expires_after[anchor] and expires_after[seconds]"]}
            )
        return attrs


ENTRY_HELP = "The configured provider entry (also the custom-llm-provider header)."
AFTER_HELP = "The id of the last item of the previous page: the page starts after it."


class FileListQuerySerializer(StrictSerializer):
    purpose = serializers.CharField(required=False, help_text="Only files of this purpose.")
    limit = serializers.IntegerField(
        min_value=1, max_value=10000, default=10000, help_text="At most this many files."
    )
    after = serializers.CharField(required=False, help_text=AFTER_HELP)
    order = serializers.ChoiceField(
        choices=["asc", "desc"], default="desc", help_text="By creation time."
    )
    custom_llm_provider = serializers.CharField(
        required=False, help_text="Only files on this provider entry."
    )


class CursorQuerySerializer(StrictSerializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=20, help_text="At most this many items."
    )
    after = serializers.CharField(required=False, help_text=AFTER_HELP)
    custom_llm_provider = serializers.CharField(required=False, help_text=ENTRY_HELP)


class CheckpointQuerySerializer(CursorQuerySerializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=10, help_text="At most this many checkpoints."
    )


class ProviderQuerySerializer(StrictSerializer):
    custom_llm_provider = serializers.CharField(required=False, help_text=ENTRY_HELP)
