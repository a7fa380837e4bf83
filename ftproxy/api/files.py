"""Files as a DRF viewset: parse, call a service, shape the answer."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ..conf import gateway
from ..errors import InvalidRequest
from ..services.files import service as file_service
from ..services.ledger import idempotency
from . import hygiene, schema, shapes
from . import serializers as s
from .base import GatewayViewSet, check_declared_size, list_body, replayable, sha256_of, validated
from .multipart import upload_handlers
from .schema import answers, operation
from .streaming import ChunkedStreamingResponse

#: Form fields as sent (``expires_after[seconds]``) for the serializer's names.
FORM_NAMES = {
    "expires_after_anchor": "expires_after[anchor]",
    "expires_after_seconds": "expires_after[seconds]",
}


class FileViewSet(GatewayViewSet):
    """``/v1/files``: upload, list, retrieve, delete, and the bytes."""

    lookup_url_kwarg = "file_id"

    @operation(
        request=s.FileCreateSerializer,
        responses=answers(shapes.OpenAIFile, post=True),
        operation_id="files_create",
        summary="Upload a file",
        description="Upload a file (multipart/form-data: `file`, `purpose`, optionally "
        "`expires_after[anchor]` and `expires_after[seconds]`) to the provider entry named by "
        "`custom_llm_provider` (or the only one configured).",
    )
    def create(self, request) -> Response:
        ctx = self.context()
        ctx.note(action="files.create")
        check_declared_size(
            request, gateway().max_upload_bytes, "this gateway accepts uploads up to", "file"
        )
        # Each file part goes straight into one temporary file (see ``multipart``).
        self.http_request.upload_handlers = upload_handlers(self.http_request)
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
        self.validated_body = data
        entry = self.entry
        fingerprint = None
        if request.headers.get("Idempotency-Key"):
            # Same key, same name and size but other bytes is another request.
            fingerprint = idempotency.fingerprint(
                "files.create",
                upload.name,
                sha256_of(upload),
                data["purpose"],
                entry,
                expires_after,
            )

        def produce():
            row = file_service.create_file(
                ctx,
                stream=upload.file,
                size=upload.size,
                filename=upload.name,
                purpose=data["purpose"],
                content_type=upload.content_type,
                entry=entry,
                expires_after=expires_after,
            )
            return status.HTTP_200_OK, shapes.shaped(shapes.OpenAIFile, row)

        return replayable(request, ctx, fingerprint, produce)

    @operation(
        parameters=[s.FileListQuerySerializer],
        responses=answers(shapes.FileList),
        operation_id="files_list",
        summary="List files",
        description="The caller's files from the ledger, newest first by default, cursor-paged "
        "with `after` (of one provider entry with `custom_llm_provider`).",
    )
    def list(self, request) -> Response:
        ctx = self.context()
        query = validated(s.FileListQuerySerializer, request.query_params.dict())
        rows, has_more = file_service.list_files(
            ctx,
            purpose=query.get("purpose"),
            after=query.get("after"),
            limit=query["limit"],
            order=query["order"],
            entry=self.entry,
        )
        return Response(
            list_body(shapes.shaped_list(shapes.OpenAIFile, rows), has_more, with_ids=True)
        )

    @operation(
        parameters=[s.ProviderQuerySerializer],
        responses=answers(shapes.OpenAIFile),
        operation_id="files_retrieve",
        summary="Retrieve a file",
        description="A file, refreshed from its provider.",
    )
    def retrieve(self, request, file_id: str) -> Response:
        row = file_service.retrieve_file(self.context(), file_id, self.entry)
        return Response(shapes.shaped(shapes.OpenAIFile, row))

    @operation(
        parameters=[s.ProviderQuerySerializer],
        responses=answers(shapes.FileDeleted),
        operation_id="files_delete",
        summary="Delete a file",
        description="Delete a file at its provider; the ledger keeps its row, marked deleted.",
    )
    def destroy(self, request, file_id: str) -> Response:
        row = file_service.delete_file(self.context(), file_id, self.entry)
        return Response(shapes.shaped(shapes.FileDeleted, row))

    @operation(
        parameters=[s.ProviderQuerySerializer],
        responses={
            (200, "application/octet-stream"): bytes,
            **{(code, "application/json"): shapes.ErrorResponse for code in schema.ERROR_STATUSES},
        },
        operation_id="files_content",
        summary="Retrieve a file's content",
        description="The file's bytes, streamed byte-exact from its provider.",
    )
    @action(detail=True, methods=["get"])
    def content(self, request, file_id: str):
        content = file_service.file_content(self.context(), file_id, self.entry)
        response = ChunkedStreamingResponse(
            content.chunks, content_type=content.content_type, on_close=content.close
        )
        if content.length is not None:
            response["Content-Length"] = str(content.length)
        return response
