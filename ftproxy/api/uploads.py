"""``/v1/uploads``: OpenAI's Uploads API (create, add a part, complete,
cancel), in OpenAI's shapes, on every provider entry."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ..errors import InvalidRequest
from ..services.ledger import idempotency
from ..services.uploads import service as upload_service
from ..services.uploads import store as upload_store
from ..services.uploads.complete import complete_upload
from ..services.uploads.settle import settle_row
from .base import GatewayViewSet, check_declared_size, replayable, validated
from .schema import answers, operation
from .serializers import FILE_PURPOSES, StrictSerializer
from .shapes import OpenAIUpload, OpenAIUploadPart, UploadPartList, shaped


@extend_schema_field({"type": "string", "enum": ["created_at"]})
class AnchorField(serializers.CharField):
    """``created_at``, the only anchor (a plain schema enum: the same choice
    as ``expires_after[anchor]`` of POST /files, without a second name)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value != "created_at":
            raise serializers.ValidationError(f'"{value}" is not a valid choice.')
        return value


class ExpiresAfterSerializer(StrictSerializer):
    anchor = AnchorField()
    seconds = serializers.IntegerField(min_value=3600, max_value=2592000)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A 256 MB training file",
            {
                "filename": "support-chats.jsonl",
                "purpose": "fine-tune",
                "bytes": 268435456,
                "mime_type": "application/jsonl",
            },
            request_only=True,
        )
    ]
)
class UploadCreateSerializer(StrictSerializer):
    """``POST /uploads`` (JSON)."""

    filename = serializers.CharField(max_length=500)
    purpose = serializers.ChoiceField(choices=FILE_PURPOSES)
    bytes = serializers.IntegerField(min_value=1)
    mime_type = serializers.CharField(max_length=200)
    expires_after = ExpiresAfterSerializer(required=False)
    custom_llm_provider = serializers.CharField(required=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Two parts, in order",
            {"part_ids": ["part_1a2b3c", "part_4d5e6f"]},
            request_only=True,
        )
    ]
)
class UploadCompleteSerializer(StrictSerializer):
    """``POST /uploads/{id}/complete`` (JSON)."""

    part_ids = serializers.ListField(child=serializers.CharField(), allow_empty=False, min_length=1)
    md5 = serializers.RegexField(r"^[0-9a-fA-F]{32}$", required=False)
    custom_llm_provider = serializers.CharField(required=False)


class UploadPartSerializer(StrictSerializer):
    """``POST /uploads/{id}/parts`` (multipart ``data``)."""

    data = serializers.FileField(allow_empty_file=True)
    custom_llm_provider = serializers.CharField(required=False)


class _SpooledPart(UploadedFile):
    """A part as Django parses it, in a temporary file next to where the
    part will be kept (so storing it is a rename, never a copy, and never
    in a RAM-backed system temp directory)."""

    def __init__(self, name: str, content_type: str, charset: str | None, extra: Any):
        directory = upload_store.incoming_dir()
        directory.mkdir(parents=True, exist_ok=True)
        file = tempfile.NamedTemporaryFile(suffix=".part", dir=directory)  # noqa: SIM115
        super().__init__(file, name, content_type, 0, charset, extra)

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self) -> None:
        try:
            self.file.close()
        except FileNotFoundError:
            pass  # moved into place: nothing left to delete


class PartUploadHandler(FileUploadHandler):
    """Parses a part's ``data`` straight to a file under the uploads
    directory, reading the request in 1 MiB chunks (Django's default 64 KiB
    reads cost several times more per byte)."""

    chunk_size = 1024 * 1024

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = _SpooledPart(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        return self.file


def _json_body(request: Request) -> Mapping[str, Any]:
    if not isinstance(request.data, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    return request.data


class UploadViewSet(GatewayViewSet):
    """``/v1/uploads``: open an upload, add parts, then complete (or cancel) it."""

    lookup_url_kwarg = "upload_id"

    @operation(
        request=UploadCreateSerializer,
        responses=answers(OpenAIUpload, post=True),
        operation_id="uploads_create",
        summary="Create an upload",
        description="Open an upload of `bytes` bytes on the provider entry named by "
        "`custom_llm_provider`; parts follow, then complete.",
    )
    def create(self, request) -> Response:
        ctx = self.context()
        ctx.note(action="uploads.create")
        body = _json_body(request)
        data = self.validated_body = validated(UploadCreateSerializer, body)
        entry = self.entry
        expires_after = dict(data["expires_after"]) if data.get("expires_after") else None
        fingerprint = idempotency.fingerprint("uploads.create", dict(body), entry)

        def produce():
            row = upload_service.create_upload(
                ctx,
                filename=data["filename"],
                purpose=data["purpose"],
                size=data["bytes"],
                mime_type=data["mime_type"],
                expires_after=expires_after,
                entry=entry,
            )
            return 200, shaped(OpenAIUpload, row)

        return replayable(request, ctx, fingerprint, produce, settle_row)

    @operation(
        request={"multipart/form-data": UploadPartSerializer},
        responses=answers(OpenAIUploadPart, post=True),
        operation_id="uploads_parts_create",
        summary="Add an upload part",
        description="Add one part (at most 64 MB) to a pending upload.",
    )
    @action(detail=True, methods=["post"])
    def parts(self, request, upload_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="uploads.parts.create", object_id=upload_id)
        limit = upload_service.MAX_PART_BYTES
        check_declared_size(request, limit, "each part may be at most", "data")
        declared = request.META.get("CONTENT_LENGTH")
        if declared and declared.isascii() and declared.isdigit():
            upload_service.check_room(int(declared))
        self.http_request.upload_handlers = [PartUploadHandler(self.http_request)]
        if not isinstance(request.data, Mapping) or not isinstance(
            request.data.get("data"), UploadedFile
        ):
            raise InvalidRequest(
                "Send the part as multipart/form-data with a 'data' file field.", param="data"
            )
        if len(request.FILES.getlist("data")) > 1:
            raise InvalidRequest("Send one 'data' file per part.", param="data")
        fields = {name: request.data[name] for name in request.data}
        part = validated(UploadPartSerializer, fields)["data"]
        path = getattr(part, "temporary_file_path", None)
        row = upload_service.add_part(
            ctx,
            upload_id,
            stream=part.file,
            size=part.size,
            source_path=path() if path else None,
        )
        return Response(shaped(OpenAIUploadPart, row))

    @operation(
        request=None,
        responses=answers(UploadPartList),
        operation_id="uploads_parts_list",
        summary="List an upload's parts",
        description="An extension of OpenAI's Uploads API: the upload's parts, oldest first, "
        "with their size and whether each was stored (`receiving`: its request has not "
        "finished; after the request's time limit it is dropped and may be sent again).",
    )
    @parts.mapping.get
    def list_parts(self, request, upload_id: str) -> Response:
        _, parts = upload_service.list_parts(self.context(), upload_id)
        return Response(shaped(UploadPartList, {"data": parts, "has_more": False}))

    @operation(
        request=UploadCompleteSerializer,
        responses=answers(OpenAIUpload, post=True),
        operation_id="uploads_complete",
        summary="Complete an upload",
        description="Complete an upload from its parts in order: the nested `file` is an "
        "ordinary file from then on.",
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, upload_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="uploads.complete", object_id=upload_id)
        data = validated(UploadCompleteSerializer, _json_body(request))
        fingerprint = idempotency.fingerprint(
            "uploads.complete", upload_id, data["part_ids"], (data.get("md5") or "").lower()
        )

        def produce():
            row = complete_upload(
                ctx, upload_id, part_ids=list(data["part_ids"]), md5=data.get("md5")
            )
            return 200, shaped(OpenAIUpload, row)

        return replayable(request, ctx, fingerprint, produce, settle_row)

    @operation(
        request=None,
        responses=answers(OpenAIUpload, post=True),
        operation_id="uploads_cancel",
        summary="Cancel an upload",
        description="Cancel a pending upload; its parts are deleted.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, upload_id: str) -> Response:
        row = upload_service.cancel_upload(self.context(), upload_id)
        return Response(shaped(OpenAIUpload, row))
