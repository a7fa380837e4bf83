"""The HTTP surface: parse, call a service, shape the answer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import UnsupportedMediaType, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import gateway
from ..errors import InvalidRequest, TooLarge
from ..services.files import service as file_service
from ..services.jobs import service as job_service
from ..services.ledger import idempotency
from ..services.ledger.context import CallContext
from . import hygiene, schema
from . import serializers as s
from .multipart import upload_handlers
from .schema import answers
from .streaming import ChunkedStreamingResponse

PROVIDER_FIELD = "custom_llm_provider"
PROVIDER_HEADER = "custom-llm-provider"
#: Form fields as sent (``expires_after[seconds]``) for the serializer's names.
FORM_NAMES = {
    "expires_after_anchor": "expires_after[anchor]",
    "expires_after_seconds": "expires_after[seconds]",
}
#: Multipart overhead allowed on top of max_upload_mb before the body is read.
MULTIPART_SLACK = 1024 * 1024


def context(request: Request) -> CallContext:
    """The service context for this request; audit facts land on the
    underlying Django request for the middleware."""
    django_request = request._request
    audit = django_request.__dict__.setdefault("ftproxy_audit", {})
    hygiene.check_request(request)
    return CallContext(caller=request.user, audit=audit)


def provider_hint(request: Request, data: Any = None) -> str | None:
    """``custom_llm_provider`` from the body or form, the query, or the header."""
    for source in (data, request.query_params):
        if source is not None and hasattr(source, "get") and source.get(PROVIDER_FIELD):
            return str(source.get(PROVIDER_FIELD))
    return request.headers.get(PROVIDER_HEADER) or None


def validated(serializer_class, data) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def list_body(data: list[dict], has_more: bool, *, with_ids: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if with_ids:
        body["first_id"] = data[0]["id"] if data else None
        body["last_id"] = data[-1]["id"] if data else None
    return body


def replayable(request: Request, ctx: CallContext, fingerprint: str, produce) -> Response:
    status_code, body, replayed = idempotency.run_once(
        ctx, request.headers.get("Idempotency-Key"), fingerprint, produce
    )
    response = Response(body, status=status_code)
    if replayed:
        response["Idempotent-Replayed"] = "true"
        if status_code >= 500:
            response["x-should-retry"] = "false"  # the same answer every time
    return response


def sha256_of(upload) -> str:
    """SHA-256 of an uploaded file, read in chunks from Django's spool."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


class FileListCreateView(APIView):
    """Upload a file (multipart), or list the caller's files from the ledger."""

    @extend_schema(
        request=s.FileCreateSerializer,
        responses=answers(schema.OpenAIFile, post=True),
        operation_id="files_create",
    )
    def post(self, request: Request) -> Response:
        ctx = context(request)
        ctx.note(action="files.create")
        declared = request.META.get("CONTENT_LENGTH")
        if declared and declared.isdigit():
            limit = gateway().max_upload_bytes
            if int(declared) > limit + MULTIPART_SLACK:
                raise TooLarge(
                    f"The request is {declared} bytes; this gateway accepts uploads up to "
                    f"{limit // (1024 * 1024)} MB (ftproxy_settings.max_upload_mb)."
                )
        # The file stays in the server's spool of the body (see ``multipart``).
        request._request.upload_handlers = upload_handlers(request._request)
        if not isinstance(request.data, Mapping):
            raise InvalidRequest(
                "Send the file as multipart/form-data with 'file' and 'purpose' fields.",
                param="file",
            )
        for key in request.data:
            values = request.data.getlist(key) if hasattr(request.data, "getlist") else []
            if len(values) > 1:
                raise InvalidRequest(f"{key}: send one {key!r} part, not {len(values)}.", param=key)
            value = values[0] if values else None
            text = value if isinstance(value, str) else getattr(value, "name", None)
            if isinstance(text, str):
                hygiene.check_text(text, key)
        form = {
            key.replace("[", "_").replace("]", ""): value for key, value in request.data.items()
        }
        try:
            data = validated(s.FileCreateSerializer, form)
        except ValidationError as exc:
            if isinstance(exc.detail, dict):  # name the fields as the client sent them
                exc.detail = {FORM_NAMES.get(k, k): v for k, v in exc.detail.items()}
            raise
        upload = data["file"]
        expires_after = None
        if "expires_after_seconds" in data:
            expires_after = {
                "anchor": data["expires_after_anchor"],
                "seconds": data["expires_after_seconds"],
            }
        hint = data.get(PROVIDER_FIELD) or provider_hint(request)
        fingerprint = None
        if request.headers.get("Idempotency-Key"):
            # Same key, same name and size but other bytes is another request.
            fingerprint = idempotency.fingerprint(
                "files.create", upload.name, sha256_of(upload), data["purpose"], hint, expires_after
            )

        def produce():
            row = file_service.create_file(
                ctx,
                stream=upload.file,
                size=upload.size,
                filename=upload.name,
                purpose=data["purpose"],
                content_type=upload.content_type,
                provider_hint=hint,
                expires_after=expires_after,
            )
            return status.HTTP_200_OK, row.to_openai()

        return replayable(request, ctx, fingerprint, produce)

    @extend_schema(
        parameters=[s.FileListQuerySerializer],
        responses=answers(schema.FileList),
        operation_id="files_list",
    )
    def get(self, request: Request) -> Response:
        ctx = context(request)
        query = validated(s.FileListQuerySerializer, request.query_params.dict())
        rows, has_more = file_service.list_files(
            ctx,
            purpose=query.get("purpose"),
            after=query.get("after"),
            limit=query["limit"],
            order=query["order"],
            provider_hint=provider_hint(request),
        )
        return Response(list_body([r.to_openai() for r in rows], has_more, with_ids=True))


class FileDetailView(APIView):
    """Retrieve a file (refreshed from its provider) or delete it."""

    @extend_schema(
        parameters=[s.ProviderQuerySerializer],
        responses=answers(schema.OpenAIFile),
        operation_id="files_retrieve",
    )
    def get(self, request: Request, file_id: str) -> Response:
        ctx = context(request)
        row = file_service.retrieve_file(ctx, file_id, provider_hint(request))
        return Response(row.to_openai())

    @extend_schema(
        parameters=[s.ProviderQuerySerializer],
        responses=answers(schema.FileDeleted),
        operation_id="files_delete",
    )
    def delete(self, request: Request, file_id: str) -> Response:
        ctx = context(request)
        row = file_service.delete_file(ctx, file_id, provider_hint(request))
        return Response({"id": row.public_id, "object": "file", "deleted": True})


class FileContentView(APIView):
    """The file's bytes, streamed byte-exact from its provider."""

    @extend_schema(
        parameters=[s.ProviderQuerySerializer],
        responses={
            (200, "application/octet-stream"): bytes,
            **{(code, "application/json"): schema.ErrorResponse for code in schema.ERROR_STATUSES},
        },
        operation_id="files_content",
    )
    def get(self, request: Request, file_id: str):
        ctx = context(request)
        content = file_service.file_content(ctx, file_id, provider_hint(request))
        response = ChunkedStreamingResponse(content.chunks, content_type=content.content_type)
        if content.length is not None:
            response["Content-Length"] = str(content.length)
        if content.close is not None:
            response._resource_closers.append(content.close)
        return response


class JobListCreateView(APIView):
    """Create a fine-tuning job, or list the caller's jobs from the ledger."""

    @extend_schema(
        request=s.JobCreateSerializer,
        responses=answers(schema.FineTuningJob, post=True),
        operation_id="fine_tuning_jobs_create",
    )
    def post(self, request: Request) -> Response:
        ctx = context(request)
        ctx.note(action="fine_tuning.jobs.create")
        if request.content_type.split(";")[0].strip().lower() != "application/json":
            # A form cannot carry nested fields; OpenAI takes JSON only.
            raise UnsupportedMediaType(
                request.content_type or "(none)",
                detail="Send the job as JSON (Content-Type: application/json).",
            )
        if not isinstance(request.data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        body = validated(s.JobCreateSerializer, request.data)
        hint = body.pop(PROVIDER_FIELD, None) or provider_hint(request)
        fingerprint = idempotency.fingerprint("fine_tuning.jobs.create", request.data, hint)

        def produce():
            job = job_service.create_job(ctx, body, hint)
            return status.HTTP_200_OK, job.to_openai()

        return replayable(request, ctx, fingerprint, produce)

    @extend_schema(
        parameters=[
            s.CursorQuerySerializer,
            OpenApiParameter("metadata", dict, style="deepObject", explode=True),
        ],
        responses=answers(schema.JobList),
        operation_id="fine_tuning_jobs_list",
    )
    def get(self, request: Request) -> Response:
        ctx = context(request)
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
            provider_hint=provider_hint(request),
        )
        return Response(list_body(jobs, has_more, with_ids=False))


class JobDetailView(APIView):
    """Retrieve a fine-tuning job, refreshed from its provider."""

    @extend_schema(
        parameters=[s.ProviderQuerySerializer],
        responses=answers(schema.FineTuningJob),
        operation_id="fine_tuning_jobs_retrieve",
    )
    def get(self, request: Request, job_id: str) -> Response:
        ctx = context(request)
        job = job_service.retrieve_job(ctx, job_id, provider_hint(request))
        return Response(job.to_openai())


class JobActionView(APIView):
    """Cancel, pause or resume a fine-tuning job at its provider."""

    action_name = ""

    @extend_schema(request=None, responses=answers(schema.FineTuningJob, post=True))
    def post(self, request: Request, job_id: str) -> Response:
        ctx = context(request)
        data = request.data if isinstance(request.data, dict) else None
        job = job_service.job_action(ctx, self.action_name, job_id, provider_hint(request, data))
        return Response(job.to_openai())


class JobCancelView(JobActionView):
    action_name = "cancel"


class JobPauseView(JobActionView):
    action_name = "pause"


class JobResumeView(JobActionView):
    action_name = "resume"


class JobSubListView(APIView):
    """A cursor-paged list under one job (events, checkpoints)."""

    query_serializer: type = s.CursorQuerySerializer
    list_items = staticmethod(job_service.list_events)
    with_ids = False

    def get(self, request: Request, job_id: str) -> Response:
        ctx = context(request)
        query = validated(self.query_serializer, request.query_params.dict())
        items, has_more = self.list_items(
            ctx,
            job_id,
            after=query.get("after"),
            limit=query["limit"],
            provider_hint=provider_hint(request),
        )
        return Response(list_body(items, has_more, with_ids=self.with_ids))


@extend_schema_view(
    get=extend_schema(
        parameters=[s.CursorQuerySerializer],
        responses=answers(schema.JobEventList),
        operation_id="fine_tuning_jobs_events",
    )
)
class JobEventsView(JobSubListView):
    """A job's events, newest first (the provider's, or the gateway's status
    history where the provider keeps none)."""


@extend_schema_view(
    get=extend_schema(
        parameters=[s.CheckpointQuerySerializer],
        responses=answers(schema.CheckpointList),
        operation_id="fine_tuning_jobs_checkpoints",
    )
)
class JobCheckpointsView(JobSubListView):
    """A job's checkpoints, newest first."""

    query_serializer = s.CheckpointQuerySerializer
    list_items = staticmethod(job_service.list_checkpoints)
    with_ids = True
