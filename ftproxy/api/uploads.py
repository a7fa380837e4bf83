"""``/v1/uploads``: OpenAI's Uploads API (create, add a part, complete,
cancel), in OpenAI's shapes, on every provider entry."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..errors import InvalidRequest, TooLarge
from ..services.ledger import idempotency
from ..services.uploads import service as upload_service
from ..services.uploads import store as upload_store
from ..services.uploads.complete import complete_upload
from . import schema
from .schema import answers
from .serializers import FILE_PURPOSES, StrictSerializer
from .views import MULTIPART_SLACK, PROVIDER_FIELD, context, provider_hint, replayable, validated


@extend_schema_field({"type": "string", "enum": ["created_at"]})
class AnchorField(serializers.CharField):
    """``created_at``, the only anchor (a plain schema enum: the same choice
    as ``expires_after[anchor]`` of POST /files, without a second name)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value != "created_at":
            raise serializers.ValidationError(f'"{value}" is not a valid choice.')
        return value


@extend_schema_field({"type": "string", "enum": ["pending", "completed", "cancelled", "expired"]})
class UploadStatusField(serializers.CharField):
    """The upload's status (documentation only)."""


class ExpiresAfterSerializer(StrictSerializer):
    anchor = AnchorField()
    seconds = serializers.IntegerField(min_value=3600, max_value=2592000)


class UploadCreateSerializer(StrictSerializer):
    """``POST /uploads`` (JSON)."""

    filename = serializers.CharField(max_length=500)
    purpose = serializers.ChoiceField(choices=FILE_PURPOSES)
    bytes = serializers.IntegerField(min_value=1)
    mime_type = serializers.CharField(max_length=200)
    expires_after = ExpiresAfterSerializer(required=False)
    custom_llm_provider = serializers.CharField(required=False, allow_blank=True)


class UploadCompleteSerializer(StrictSerializer):
    """``POST /uploads/{id}/complete`` (JSON)."""

    part_ids = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    md5 = serializers.RegexField(r"^[0-9a-fA-F]{32}$", required=False)
    custom_llm_provider = serializers.CharField(required=False, allow_blank=True)


class UploadPartSerializer(StrictSerializer):
    """``POST /uploads/{id}/parts`` (multipart ``data``)."""

    data = serializers.FileField(allow_empty_file=True)
    custom_llm_provider = serializers.CharField(required=False, allow_blank=True)


class OpenAIUpload(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["upload"])
    bytes = serializers.IntegerField()
    created_at = serializers.IntegerField()
    expires_at = serializers.IntegerField()
    filename = serializers.CharField()
    purpose = serializers.CharField()
    status = UploadStatusField()
    file = schema.OpenAIFile(allow_null=True, required=False)


class OpenAIUploadPart(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.ChoiceField(choices=["upload.part"])
    created_at = serializers.IntegerField()
    upload_id = serializers.CharField()


class UploadPartListed(OpenAIUploadPart):
    """A part as the listing shows it (an extension): its size and whether
    it was stored (and forwarded), or its request has not finished."""

    bytes = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["stored", "receiving"])


class UploadPartList(serializers.Serializer):
    object = serializers.ChoiceField(choices=["list"])
    data = UploadPartListed(many=True)
    has_more = serializers.BooleanField()


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


class UploadCreateView(APIView):
    """Open an upload; parts follow, then complete."""

    @extend_schema(
        request=UploadCreateSerializer,
        responses=answers(OpenAIUpload, post=True),
        operation_id="uploads_create",
    )
    def post(self, request: Request) -> Response:
        ctx = context(request)
        ctx.note(action="uploads.create")
        body = _json_body(request)
        data = validated(UploadCreateSerializer, body)
        hint = data.get(PROVIDER_FIELD) or provider_hint(request)
        expires_after = dict(data["expires_after"]) if data.get("expires_after") else None
        fingerprint = idempotency.fingerprint("uploads.create", dict(body), hint)

        def produce():
            row = upload_service.create_upload(
                ctx,
                filename=data["filename"],
                purpose=data["purpose"],
                size=data["bytes"],
                mime_type=data["mime_type"],
                expires_after=expires_after,
                provider_hint=hint,
            )
            return 200, row.to_openai()

        return replayable(request, ctx, fingerprint, produce)


class UploadPartView(APIView):
    """Add one part (at most 64 MB) to a pending upload; list its parts."""

    @extend_schema(
        request=None,
        responses=answers(UploadPartList),
        operation_id="uploads_parts_list",
        description="An extension of OpenAI's Uploads API: the upload's parts, oldest first, "
        "with their size and whether each was stored (`receiving`: its request has not "
        "finished; after the request's time limit it is dropped and may be sent again).",
    )
    def get(self, request: Request, upload_id: str) -> Response:
        ctx = context(request)
        row, parts = upload_service.list_parts(ctx, upload_id)
        data = [
            {
                **part.to_openai(),
                "bytes": part.bytes,
                "status": "stored" if part.remote_id else "receiving",
            }
            for part in parts
        ]
        return Response({"object": "list", "data": data, "has_more": False})

    @extend_schema(
        request={"multipart/form-data": UploadPartSerializer},
        responses=answers(OpenAIUploadPart, post=True),
        operation_id="uploads_parts_create",
    )
    def post(self, request: Request, upload_id: str) -> Response:
        ctx = context(request)
        ctx.note(action="uploads.parts.create", object_id=upload_id)
        declared = request.META.get("CONTENT_LENGTH")
        limit = upload_service.MAX_PART_BYTES
        if declared and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
            raise TooLarge(
                f"The request is {declared} bytes; each part may be at most "
                f"{limit // (1024 * 1024)} MB.",
                param="data",
            )
        if declared and declared.isdigit():
            upload_service.check_room(int(declared))
        request._request.upload_handlers = [PartUploadHandler(request._request)]
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
        return Response(row.to_openai())


class UploadCompleteView(APIView):
    """Complete an upload from its parts in order: the nested ``file`` is an
    ordinary file from then on."""

    @extend_schema(
        request=UploadCompleteSerializer,
        responses=answers(OpenAIUpload, post=True),
        operation_id="uploads_complete",
    )
    def post(self, request: Request, upload_id: str) -> Response:
        ctx = context(request)
        ctx.note(action="uploads.complete", object_id=upload_id)
        data = validated(UploadCompleteSerializer, _json_body(request))
        fingerprint = idempotency.fingerprint(
            "uploads.complete", upload_id, data["part_ids"], (data.get("md5") or "").lower()
        )

        def produce():
            row = complete_upload(
                ctx, upload_id, part_ids=list(data["part_ids"]), md5=data.get("md5")
            )
            return 200, row.to_openai()

        return replayable(request, ctx, fingerprint, produce)


class UploadCancelView(APIView):
    """Cancel a pending upload; its parts are deleted."""

    @extend_schema(
        request=None, responses=answers(OpenAIUpload, post=True), operation_id="uploads_cancel"
    )
    def post(self, request: Request, upload_id: str) -> Response:
        ctx = context(request)
        row = upload_service.cancel_upload(ctx, upload_id)
        return Response(row.to_openai())
