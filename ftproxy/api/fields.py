"""The fields the answer shapes (``shapes``) are made of: a column's value
passed as it is, constants, and the few values the gateway words itself.
Each documents its JSON type for the schema."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Upload


class Value(serializers.ReadOnlyField):
    """A column's value as it is (already JSON: no per-value conversion)."""


@extend_schema_field({"type": "string"})
class Text(Value):
    pass


@extend_schema_field({"type": "integer"})
class Integer(Value):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {}})
class Object(Value):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMap(Value):
    pass


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class Strings(Value):
    pass


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
class Objects(Value):
    pass


class Constant(serializers.Field):
    """The same value for every object (``object``: ``"file"``)."""

    def __init__(self, value: Any, **kwargs: Any):
        self.value = value
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return self.value


class ConstantSchema(OpenApiSerializerFieldExtension):
    target_class = Constant

    def map_serializer_field(self, auto_schema, direction):
        kind = "boolean" if isinstance(self.target.value, bool) else "string"
        return {"type": kind, "enum": [self.target.value]}


class Shape(serializers.Serializer):
    """An answer's object. Columns that pass as they are (``Value`` fields)
    are read straight off the row or mapping; other fields as DRF reads them."""

    @cached_property
    def plan(self) -> list[tuple[str, str | None, serializers.Field]]:
        plan = []
        for name, field in self.fields.items():
            direct = type(field).to_representation is Value.to_representation
            simple = direct and "." not in field.source and field.source != "*"
            plan.append((name, field.source if simple else None, field))
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        mapping = isinstance(instance, Mapping)
        data: dict[str, Any] = {}
        for name, source, field in self.plan:
            if source is not None:
                data[name] = instance[source] if mapping else getattr(instance, source)
                continue
            value = field.get_attribute(instance)
            data[name] = None if value is None else field.to_representation(value)
        return data


def nullable(field_class, **kwargs: Any):
    return field_class(allow_null=True, **kwargs)


@extend_schema_field({"type": "string", "enum": ["pending", "completed", "cancelled", "expired"]})
class UploadStatus(Value):
    """``completing`` is the gateway's own step: OpenAI's clients see ``pending``."""

    def to_representation(self, value: Any) -> str:
        return str(Upload.Status.PENDING if value == Upload.Status.COMPLETING else value)


class PartStatus(serializers.Field):
    """``stored`` once the part's bytes are kept (and forwarded), else
    ``receiving``: its request has not finished."""

    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, part: Any) -> str:
        return "stored" if part.remote_id else "receiving"


class PartStatusSchema(OpenApiSerializerFieldExtension):
    target_class = PartStatus

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": ["stored", "receiving"]}


class Derived(serializers.Field):
    """A value the gateway words from the row (not a column as it is):
    ``read(row)``, documented as ``kind`` (a JSON type, or a whole schema;
    nullable with ``allow_null``)."""

    def __init__(self, read, kind: str | dict[str, Any], **kwargs: Any):
        self.read, self.kind = read, kind
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, row: Any) -> Any:
        return self.read(row)


class DerivedSchema(OpenApiSerializerFieldExtension):
    target_class = Derived

    def map_serializer_field(self, auto_schema, direction):
        kind = self.target.kind
        schema: dict[str, Any] = dict(kind) if isinstance(kind, dict) else {"type": kind}
        if self.target.allow_null:
            schema["nullable"] = True
        return schema
