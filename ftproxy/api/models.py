"""Fine-tuned models as OpenAI's Models API: ``GET /v1/models``,
``GET /v1/models/{model}``, ``DELETE /v1/models/{model}``.

Model names may hold ``/`` (a Vertex AI endpoint) and ``:`` (``ft:…``), so
the route takes the rest of the path as the name."""

from __future__ import annotations

from rest_framework.response import Response

from ..conf import FINE_TUNING
from ..services.jobs import tuned_models
from ..services.ledger.common import choose_provider
from . import model_shapes as m
from . import serializers as s
from .base import GatewayViewSet, validated
from .schema import answers, operation
from .shapes import shaped, shaped_list

ENTRY_PARAMETERS = [s.ProviderQuerySerializer]


class ModelViewSet(GatewayViewSet):
    """``/v1/models``."""

    lookup_url_kwarg = "model"
    lookup_value_converter = "path"

    def named_entry(self) -> str | None:
        """The entry the request names, checked against the configured ones."""
        validated(s.ProviderQuerySerializer, self.request.query_params.dict())
        entry = self.entry
        if entry:
            choose_provider(FINE_TUNING, entry)
        return entry

    @operation(
        parameters=ENTRY_PARAMETERS,
        responses=answers(m.ModelList),
        operation_id="models_list",
        summary="List fine-tuned models",
        description="The fine-tuned models of the caller's succeeded jobs (all, for the master "
        "key), newest first, with their lineage and shutdown date; `custom_llm_provider` "
        "narrows to one entry.",
    )
    def list(self, request) -> Response:
        ctx = self.context()
        entry = self.named_entry()
        jobs = tuned_models.list_models(ctx)
        if entry:
            jobs = [job for job in jobs if job.provider == entry]
        return Response({"object": "list", "data": shaped_list(m.OpenAIModel, jobs)})

    @operation(
        parameters=ENTRY_PARAMETERS,
        responses=answers(m.OpenAIModel),
        operation_id="models_retrieve",
        summary="Retrieve a fine-tuned model",
        description="One fine-tuned model of the caller's, with the job that produced it; "
        "`custom_llm_provider` looks for it on that entry only.",
    )
    def retrieve(self, request, model: str) -> Response:
        ctx = self.context()
        entry = self.named_entry()
        return Response(shaped(m.OpenAIModel, tuned_models.retrieve_model(ctx, model, entry)))

    @operation(
        parameters=ENTRY_PARAMETERS,
        responses=answers(m.ModelDeleted),
        operation_id="models_delete",
        summary="Delete a fine-tuned model",
        description="Delete a fine-tuned model at its provider (where it has a delete; "
        "a 400 elsewhere) and record it in the ledger; `custom_llm_provider` looks for it "
        "on that entry only.",
    )
    def destroy(self, request, model: str) -> Response:
        ctx = self.context()
        entry = self.named_entry()
        return Response(shaped(m.ModelDeleted, tuned_models.delete_model(ctx, model, entry)))
