"""OpenAI's objects as the gateway answers them, each declared once.

The views answer with these serializers (``shaped``), and drf-spectacular
documents the same classes, so the documented shape is the sent shape.
They read ledger rows, or plain mappings (``values()`` rows of a list).
Events and checkpoints are mappings already in OpenAI's shape (the
provider's, or the gateway's status history): ``JobEvent`` and
``Checkpoint`` document them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from ..models import File, Upload
from ..models import FineTuningJob as JobRow
from ..providers.data import JOB_FIELDS
from .examples import CHECKPOINT_EXAMPLE, EVENT_EXAMPLE, FILE_EXAMPLE, JOB_EXAMPLE, UPLOAD_EXAMPLE
from .fields import (
    Constant,
    Integer,
    Object,
    Objects,
    PartStatus,
    Shape,
    StringMap,
    Strings,
    Text,
    UploadStatus,
    nullable,
)


@extend_schema_serializer(examples=[OpenApiExample("A training file", FILE_EXAMPLE)])
class OpenAIFile(Shape):
    id = Text(source="public_id")
    object = Constant("file")
    bytes = Integer(help_text="0 while a provider's result file is not described yet.")
    created_at = Integer()
    filename = Text()
    purpose = Text()
    status = Text()
    status_details = nullable(Text)
    expires_at = nullable(Integer)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data["bytes"] is None:  # OpenAI's schema says integer, and clients sum it
            data["bytes"] = 0
        return data


@extend_schema_serializer(
    many=False,  # a list page is one object
    examples=[
        OpenApiExample(
            "A page of files",
            {
                "object": "list",
                "data": [FILE_EXAMPLE],
                "first_id": FILE_EXAMPLE["id"],
                "last_id": FILE_EXAMPLE["id"],
                "has_more": False,
            },
        )
    ],
)
class FileList(Shape):
    object = Constant("list")
    data = OpenAIFile(many=True)
    first_id = nullable(Text)
    last_id = nullable(Text)
    has_more = serializers.BooleanField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A deleted file", {"id": FILE_EXAMPLE["id"], "object": "file", "deleted": True}
        )
    ]
)
class FileDeleted(Shape):
    id = Text(source="public_id")
    object = Constant("file")
    deleted = Constant(True)


@extend_schema_serializer(examples=[OpenApiExample("A running job", JOB_EXAMPLE)])
class FineTuningJob(Shape):
    """Fields the provider answered and the ledger does not shape are passed
    on after these (``upstream_fields``)."""

    id = Text(source="public_id")
    object = Constant("fine_tuning.job")
    created_at = Integer()
    error = nullable(Object)
    fine_tuned_model = nullable(Text)
    finished_at = nullable(Integer)
    hyperparameters = Object()
    model = Text()
    organization_id = Text()
    result_files = Strings()
    seed = nullable(Integer)
    status = Text()
    trained_tokens = nullable(Integer)
    training_file = Text()
    validation_file = nullable(Text)
    estimated_finish = nullable(Integer)
    integrations = nullable(Objects)
    metadata = nullable(StringMap)
    method = nullable(Object)

    #: The columns an answer reads (a list reads just these, as ``values()``).
    columns = (
        "public_id",
        *(name for name in JOB_FIELDS if name not in ("id", "object")),
        "upstream_fields",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data["hyperparameters"] is None:
            data["hyperparameters"] = {}
        if data["result_files"] is None:
            data["result_files"] = []
        if isinstance(instance, dict):
            extra = instance["upstream_fields"]
        else:
            extra = instance.upstream_fields
        for name, value in (extra or {}).items():
            data.setdefault(name, value)  # what the ledger shapes wins
        return data


@extend_schema_serializer(
    many=False,
    examples=[
        OpenApiExample(
            "A page of jobs", {"object": "list", "data": [JOB_EXAMPLE], "has_more": False}
        )
    ],
)
class JobList(Shape):
    object = Constant("list")
    data = FineTuningJob(many=True)
    has_more = serializers.BooleanField()


@extend_schema_serializer(examples=[OpenApiExample("A status change", EVENT_EXAMPLE)])
class JobEvent(Shape):
    object = Constant("fine_tuning.job.event")
    id = Text()
    created_at = Integer()
    level = serializers.ChoiceField(choices=["info", "warn", "error"])
    message = Text()
    type = serializers.ChoiceField(choices=["message", "metrics"])
    data = nullable(Object, required=False)


@extend_schema_serializer(
    many=False,
    examples=[
        OpenApiExample(
            "A page of events", {"object": "list", "data": [EVENT_EXAMPLE], "has_more": True}
        )
    ],
)
class JobEventList(Shape):
    object = Constant("list")
    data = JobEvent(many=True)
    has_more = serializers.BooleanField()


@extend_schema_serializer(examples=[OpenApiExample("A checkpoint", CHECKPOINT_EXAMPLE)])
class Checkpoint(Shape):
    object = Constant("fine_tuning.job.checkpoint")
    id = Text()
    created_at = Integer()
    fine_tuned_model_checkpoint = Text()
    step_number = Integer()
    metrics = Object()
    fine_tuning_job_id = Text()


@extend_schema_serializer(
    many=False,
    examples=[
        OpenApiExample(
            "A page of checkpoints",
            {
                "object": "list",
                "data": [CHECKPOINT_EXAMPLE],
                "first_id": CHECKPOINT_EXAMPLE["id"],
                "last_id": CHECKPOINT_EXAMPLE["id"],
                "has_more": False,
            },
        )
    ],
)
class CheckpointList(Shape):
    object = Constant("list")
    data = Checkpoint(many=True)
    first_id = nullable(Text)
    last_id = nullable(Text)
    has_more = serializers.BooleanField()


@extend_schema_serializer(examples=[OpenApiExample("An open upload", UPLOAD_EXAMPLE)])
class OpenAIUpload(Shape):
    id = Text(source="public_id")
    object = Constant("upload")
    bytes = Integer()
    created_at = Integer()
    expires_at = Integer()
    filename = Text()
    purpose = Text()
    status = UploadStatus()
    file = OpenAIFile(allow_null=True, required=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A part",
            {
                "id": "part_1a2b3c",
                "object": "upload.part",
                "created_at": 1765152030,
                "upload_id": UPLOAD_EXAMPLE["id"],
            },
        )
    ]
)
class OpenAIUploadPart(Shape):
    id = Text(source="public_id")
    object = Constant("upload.part")
    created_at = Integer()
    upload_id = Text(source="upload.public_id")


class UploadPartListed(OpenAIUploadPart):
    """A part as the listing shows it (an extension of OpenAI's Uploads API):
    its size, and whether it was stored."""

    bytes = Integer()
    status = PartStatus()


@extend_schema_serializer(
    many=False,
    examples=[
        OpenApiExample(
            "An upload's parts",
            {
                "object": "list",
                "data": [
                    {
                        "id": "part_1a2b3c",
                        "object": "upload.part",
                        "created_at": 1765152030,
                        "upload_id": UPLOAD_EXAMPLE["id"],
                        "bytes": 67108864,
                        "status": "stored",
                    }
                ],
                "has_more": False,
            },
        )
    ],
)
class UploadPartList(Shape):
    object = Constant("list")
    data = UploadPartListed(many=True)
    has_more = serializers.BooleanField()


class ErrorDetail(Shape):
    message = Text()
    type = Text()
    param = nullable(Text)
    code = nullable(Text)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "An unknown file",
            {
                "error": {
                    "message": "No such file: file-abc123",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "not_found",
                }
            },
            status_codes=["404"],
        )
    ]
)
class ErrorResponse(Shape):
    error = ErrorDetail()


_instances: dict[type, serializers.Serializer] = {}


def shaped(shape: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """``instance`` (a row, or a mapping of its columns) as the ``shape``
    answers it (one bound serializer per shape, reused)."""
    serializer = _instances.get(shape)
    if serializer is None:
        serializer = _instances[shape] = shape()
    return serializer.to_representation(instance)


def shaped_list(shape: type[serializers.Serializer], instances) -> list[dict[str, Any]]:
    return [shaped(shape, instance) for instance in instances]


def answer_of(row: Any) -> dict[str, Any]:
    """The answer of a create, from the ledger row it recorded (a replay)."""
    shape = {File: OpenAIFile, JobRow: FineTuningJob, Upload: OpenAIUpload}[type(row)]
    return shaped(shape, row)
