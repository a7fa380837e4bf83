"""Fine-tuning jobs as a DRF viewset: create, list, retrieve, and the
``cancel``, ``pause``, ``resume``, ``events`` and ``checkpoints`` actions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response

from ..errors import InvalidRequest
from ..services.jobs import service as job_service
from ..services.ledger import idempotency
from . import serializers as s
from . import shapes
from .base import ENTRY_FIELD, GatewayViewSet, list_body, replayable, validated
from .schema import answers, operation

ENTRY_PARAMETERS = [s.ProviderQuerySerializer]


def job_action_schema(verb: str, description: str):
    return operation(
        request=None,
        parameters=ENTRY_PARAMETERS,
        responses=answers(shapes.FineTuningJob, post=True),
        operation_id=f"fine_tuning_jobs_{verb}",
        summary=f"{verb.capitalize()} a fine-tuning job",
        description=description,
    )


class JobViewSet(GatewayViewSet):
    """``/v1/fine_tuning/jobs``."""

    lookup_url_kwarg = "job_id"

    @operation(
        request=s.JobCreateSerializer,
        responses=answers(shapes.FineTuningJob, post=True),
        operation_id="fine_tuning_jobs_create",
        summary="Create a fine-tuning job",
        description="Create a fine-tuning job on the provider entry named by "
        "`custom_llm_provider` (else the training file's, else the only one configured). "
        "Files of another entry are copied to it first.",
    )
    def create(self, request) -> Response:
        ctx = self.context()
        ctx.note(action="fine_tuning.jobs.create")
        if request.content_type.split(";")[0].strip().lower() != "application/json":
            # A form cannot carry nested fields; OpenAI takes JSON only.
            raise UnsupportedMediaType(
                request.content_type or "(none)",
                detail="Send the job as JSON (Content-Type: application/json).",
            )
        if not isinstance(request.data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        body = self.validated_body = validated(s.JobCreateSerializer, request.data)
        entry = self.entry
        body.pop(ENTRY_FIELD, None)
        fingerprint = idempotency.fingerprint("fine_tuning.jobs.create", request.data, entry)

        def produce():
            job = job_service.create_job(ctx, body, entry)
            return status.HTTP_200_OK, shapes.shaped(shapes.FineTuningJob, job)

        return replayable(request, ctx, fingerprint, produce)

    @operation(
        parameters=[
            s.CursorQuerySerializer,
            OpenApiParameter(
                "metadata",
                dict,
                style="deepObject",
                explode=True,
                description="Only jobs with these metadata pairs (`metadata[key]=value`); "
                "`metadata=null` for jobs without metadata.",
            ),
        ],
        responses=answers(shapes.JobList),
        operation_id="fine_tuning_jobs_list",
        summary="List fine-tuning jobs",
        description="The caller's jobs from the ledger, newest first, cursor-paged with `after`.",
    )
    def list(self, request) -> Response:
        ctx = self.context()
        params = request.query_params
        metadata = {
            key[len("metadata[") : -1]: value
            for key, value in params.items()
            if key.startswith("metadata[") and key.endswith("]")
        }
        metadata_null = params.get("metadata") == "null"
        plain = {k: v for k, v in params.items() if not k.startswith("metadata")}
        query = validated(s.CursorQuerySerializer, plain)
        jobs, has_more = job_service.list_jobs(
            ctx,
            after=query.get("after"),
            limit=query["limit"],
            metadata=metadata,
            metadata_null=metadata_null,
            entry=self.entry,
            columns=shapes.FineTuningJob.columns,
        )
        jobs = shapes.shaped_list(shapes.FineTuningJob, jobs)
        return Response(list_body(jobs, has_more, with_ids=False))

    @operation(
        parameters=ENTRY_PARAMETERS,
        responses=answers(shapes.FineTuningJob),
        operation_id="fine_tuning_jobs_retrieve",
        summary="Retrieve a fine-tuning job",
        description="A fine-tuning job, refreshed from its provider.",
    )
    def retrieve(self, request, job_id: str) -> Response:
        job = job_service.retrieve_job(self.context(), job_id, self.entry)
        return Response(shapes.shaped(shapes.FineTuningJob, job))

    def act(self, verb: str, job_id: str) -> Response:
        job = job_service.job_action(self.context(), verb, job_id, self.entry)
        return Response(shapes.shaped(shapes.FineTuningJob, job))

    @job_action_schema("cancel", "Cancel a queued or running fine-tuning job at its provider.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, job_id: str) -> Response:
        return self.act("cancel", job_id)

    @job_action_schema(
        "pause", "Pause a running fine-tuning job (providers that can; 400 elsewhere)."
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, job_id: str) -> Response:
        return self.act("pause", job_id)

    @job_action_schema("resume", "Resume a paused fine-tuning job (providers that can).")
    @action(detail=True, methods=["post"])
    def resume(self, request, job_id: str) -> Response:
        return self.act("resume", job_id)

    def sub_list(self, list_items, query_serializer, job_id: str, *, with_ids: bool) -> Response:
        ctx = self.context()
        query = validated(query_serializer, self.request.query_params.dict())
        items, has_more = list_items(
            ctx,
            job_id,
            after=query.get("after"),
            limit=query["limit"],
            entry=self.entry,
        )
        return Response(list_body(items, has_more, with_ids=with_ids))

    @operation(
        parameters=[s.CursorQuerySerializer],
        responses=answers(shapes.JobEventList),
        operation_id="fine_tuning_jobs_events",
        summary="List a fine-tuning job's events",
        description="A job's events, newest first (the provider's, or the gateway's status "
        "history where the provider keeps none).",
    )
    @action(detail=True, methods=["get"])
    def events(self, request, job_id: str) -> Response:
        return self.sub_list(
            job_service.list_events, s.CursorQuerySerializer, job_id, with_ids=False
        )

    @operation(
        parameters=[s.CheckpointQuerySerializer],
        responses=answers(shapes.CheckpointList),
        operation_id="fine_tuning_jobs_checkpoints",
        summary="List a fine-tuning job's checkpoints",
        description="A job's checkpoints, newest first.",
    )
    @action(detail=True, methods=["get"])
    def checkpoints(self, request, job_id: str) -> Response:
        return self.sub_list(
            job_service.list_checkpoints, s.CheckpointQuerySerializer, job_id, with_ids=True
        )
