"""OpenAI's Model object as ``/v1/models`` answers it, with the gateway's
lineage of each fine-tuned model as extra fields (the SDK keeps unknown
fields: ``model.model_extra``, or ``model.fine_tuning_job`` as an attribute)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer

from ..shutdowns import shutdown_date
from .fields import Constant, Derived, Integer, Shape, Text, nullable

MODEL_EXAMPLE = {
    "id": "ft:gpt-4o-mini-2024-07-18:org-ftproxy:support:9xK2mQ1a",
    "object": "model",
    "created": 1765155600,
    "owned_by": "org-ftproxy",
    "custom_llm_provider": "openai",
    "fine_tuning_job": "ftjob-3b1f6c2d9e8a4f70b5c4d3e2a1f0b9c8",
    "base_model": "gpt-4o-mini-2024-07-18",
    "training_file": "file-5f0c9e2a7b1d4c3e8a6b2d1f0e9c8b7a",
    "validation_file": None,
    "trained_tokens": 421155,
    "cost_usd": "1.263465",
    "shutdown_date": "2027-01-14",
}


def _created(job: Any) -> int:
    return job.finished_at or job.created_at


def _owned_by(job: Any) -> str:
    return job.organization_id or job.provider


def _cost(job: Any) -> str | None:
    return None if job.cost_usd is None else f"{job.cost_usd:f}"


def _shutdown(job: Any) -> str | None:
    day = shutdown_date(job.provider_kind, job.model)
    return day.isoformat() if day else None


@extend_schema_serializer(examples=[OpenApiExample("A fine-tuned model", MODEL_EXAMPLE)])
class OpenAIModel(Shape):
    id = Text(source="fine_tuned_model")
    object = Constant("model")
    created = Derived(_created, "integer", help_text="When its job finished (Unix seconds).")
    owned_by = Derived(
        _owned_by, "string", help_text="The provider's organization, else the entry."
    )
    custom_llm_provider = Text(source="provider", help_text="The entry it lives on.")
    fine_tuning_job = Text(source="public_id", help_text="The job that produced it.")
    base_model = Text(source="model")
    training_file = Text()
    validation_file = nullable(Text)
    trained_tokens = nullable(Integer)
    cost_usd = Derived(_cost, "string", allow_null=True, help_text="What its training cost (USD).")
    shutdown_date = Derived(
        _shutdown,
        "string",
        allow_null=True,
        help_text="The day it stops serving (YYYY-MM-DD), where known.",
    )


@extend_schema_serializer(
    many=False,
    examples=[OpenApiExample("The caller's models", {"object": "list", "data": [MODEL_EXAMPLE]})],
)
class ModelList(Shape):
    object = Constant("list")
    data = OpenAIModel(many=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A deleted model", {"id": MODEL_EXAMPLE["id"], "object": "model", "deleted": True}
        )
    ]
)
class ModelDeleted(Shape):
    id = Text(source="fine_tuned_model")
    object = Constant("model")
    deleted = Constant(True)
