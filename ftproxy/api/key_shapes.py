"""The keys API's requests and answers: an API key as the master key
manages it. The secret (``key``) and a new webhook signing secret
(``webhook_secret``) appear only in the answer that made them."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ..services.accounts.apikeys import MAX_GRACE, public_id
from .fields import Constant, Derived, Integer, Shape, Text, nullable
from .serializers import StrictSerializer

#: An amount in USD: digits, at most two decimals (cents), as a string so
#: that no float rounding touches it.
USD_PATTERN = r"^\d{1,12}(\.\d{1,2})?$"
#: The last second of year 9999: the latest expiry a key may have.
LATEST = 253402300799
POSTGRES_INT_MAX = 2147483647
STRINGS = {"type": "array", "items": {"type": "string"}}

KEY_EXAMPLE: dict[str, Any] = {
    "id": "key-12",
    "object": "api_key",
    "name": "team-search",
    "prefix": "sk-ftp-Xy3kP0aQ",
    "created_at": 1765152000,
    "last_used_at": 1765155600,
    "expires_at": 1796688000,
    "revoked": False,
    "revoked_at": None,
    "budget_usd": "250.00",
    "max_active_jobs": 3,
    "webhook_url": "https://hooks.example.com/ftproxy",
    "allowed_providers": ["openai", "vertex_ai"],
    "allowed_models": ["gpt-4.1-mini", "gemini-2.5-flash"],
    "rotated_at": None,
    "previous_key_expires_at": None,
}
SECRET_EXAMPLE = "sk-ftp-Xy3kP0aQ" + "r" * 35
WEBHOOK_SECRET_EXAMPLE = "whsec_" + "c2VjcmV0" * 5 + "c2U="


@extend_schema_field({"type": "string", "pattern": USD_PATTERN})
class UsdAmount(serializers.Field):
    """An amount in USD as a string, at most two decimals (``"250.00"``)."""

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(USD_PATTERN, data):
            raise serializers.ValidationError(
                'must be an amount in USD as a string with at most two decimals, e.g. "250.00"'
            )
        return Decimal(data)

    def to_representation(self, value: Any) -> str:
        return f"{value:.2f}"


class WebhookUrl(serializers.CharField):
    """An http(s) URL, as Django's ``URLValidator`` takes it."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise serializers.ValidationError("must be an http(s) URL") from None
        return value


class KeySettingsSerializer(StrictSerializer):
    """What a key's owner-facing settings are; every field optional (an update)."""

    name = serializers.CharField(max_length=200, required=False)
    budget_usd = UsdAmount(required=False, allow_null=True, help_text="null: no budget.")
    max_active_jobs = serializers.IntegerField(
        min_value=0,
        max_value=POSTGRES_INT_MAX,
        required=False,
        allow_null=True,
        help_text="Most jobs not yet final at once; null: no limit.",
    )
    webhook_url = WebhookUrl(
        max_length=2000,
        required=False,
        allow_null=True,
        help_text="Where its jobs' status changes are sent; null removes it. A key's first "
        "URL makes its signing secret, answered once as `webhook_secret`.",
    )
    allowed_providers = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=50,
        required=False,
        allow_null=True,
        help_text="Entries it may create on; null: any; []: none.",
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=300),
        max_length=200,
        required=False,
        allow_null=True,
        help_text="Base models it may train (a name covers its dated snapshots; a prefix may "
        "end in `*`); null: any; []: none.",
    )
    expires_at = serializers.IntegerField(
        min_value=0,
        max_value=LATEST,
        required=False,
        allow_null=True,
        help_text="Unix seconds after which it is refused (401); null: never.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A key for one team",
            {
                "name": "team-search",
                "budget_usd": "250.00",
                "allowed_providers": ["openai", "vertex_ai"],
                "expires_at": 1796688000,
            },
        )
    ]
)
class KeyCreateSerializer(KeySettingsSerializer):
    name = serializers.CharField(max_length=200)


class KeyRotateSerializer(StrictSerializer):
    grace_period_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_GRACE.total_seconds()),
        required=False,
        help_text="How long the old secret keeps working (default 86400: 24 hours; 0: it "
        "stops at once).",
    )


class KeyListQuerySerializer(StrictSerializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=20, help_text="At most this many keys."
    )
    after = serializers.CharField(
        required=False, help_text="The id of the last key of the previous page."
    )


def _unix(value: Any) -> int | None:
    return None if value is None else int(value.timestamp())


def _at(name: str):
    return lambda key: _unix(getattr(key, name))


def _usd(key: Any) -> str | None:
    return None if key.budget_usd is None else f"{key.budget_usd:.2f}"


@extend_schema_serializer(examples=[OpenApiExample("A key", KEY_EXAMPLE)])
class ApiKeyObject(Shape):
    id = Derived(public_id, "string")
    object = Constant("api_key")
    name = Text()
    prefix = Text(help_text="The start of its secret, to recognise it by.")
    created_at = Derived(_at("created"), "integer")
    last_used_at = Derived(_at("last_used"), "integer", allow_null=True)
    expires_at = Derived(_at("expires_at"), "integer", allow_null=True)
    revoked = serializers.BooleanField()
    revoked_at = Derived(_at("revoked_at"), "integer", allow_null=True)
    budget_usd = Derived(_usd, "string", allow_null=True)
    max_active_jobs = nullable(Integer)
    webhook_url = Derived(lambda key: key.webhook_url or None, "string", allow_null=True)
    allowed_providers = Derived(lambda key: key.allowed_providers, STRINGS, allow_null=True)
    allowed_models = Derived(lambda key: key.allowed_models, STRINGS, allow_null=True)
    rotated_at = Derived(_at("rotated_at"), "integer", allow_null=True)
    previous_key_expires_at = Derived(
        _at("previous_key_expires_at"),
        "integer",
        allow_null=True,
        help_text="Until when the secret it had before its last rotation still works.",
    )


class WithSecrets(ApiKeyObject):
    """The answer that made a secret: the only time it is shown."""

    key = Derived(lambda made: None, "string", help_text="The secret, shown this once.")
    webhook_secret = Derived(
        lambda made: None, "string", allow_null=True, help_text="Shown this once, if made."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new key",
            {**KEY_EXAMPLE, "key": SECRET_EXAMPLE, "webhook_secret": WEBHOOK_SECRET_EXAMPLE},
        )
    ]
)
class KeyCreated(WithSecrets):
    pass


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A rotated key",
            {
                **KEY_EXAMPLE,
                "rotated_at": 1765159200,
                "previous_key_expires_at": 1765245600,
                "key": SECRET_EXAMPLE,
                "webhook_secret": None,
            },
        )
    ]
)
class KeyRotated(WithSecrets):
    pass


@extend_schema_serializer(
    examples=[
        OpenApiExample("An updated key", {**KEY_EXAMPLE, "webhook_secret": WEBHOOK_SECRET_EXAMPLE})
    ]
)
class KeyUpdated(ApiKeyObject):
    webhook_secret = Derived(
        lambda made: None, "string", allow_null=True, help_text="Shown once, if one was made."
    )


@extend_schema_serializer(
    many=False,
    examples=[
        OpenApiExample(
            "A page of keys",
            {
                "object": "list",
                "data": [KEY_EXAMPLE],
                "first_id": KEY_EXAMPLE["id"],
                "last_id": KEY_EXAMPLE["id"],
                "has_more": False,
            },
        )
    ],
)
class KeyList(Shape):
    object = Constant("list")
    data = ApiKeyObject(many=True)
    first_id = nullable(Text)
    last_id = nullable(Text)
    has_more = serializers.BooleanField()
