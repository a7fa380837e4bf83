"""The keys API, for the master key only (any other key: 403):

- ``POST /v1/keys`` create (the secret answered once, as ``key``);
- ``GET /v1/keys`` list (newest first, ``limit``/``after``);
- ``GET /v1/keys/{key_id}`` retrieve; ``POST /v1/keys/{key_id}`` update;
- ``POST /v1/keys/{key_id}/revoke``; ``POST /v1/keys/{key_id}/rotate``
  (a new secret; the old one works for ``grace_period_seconds`` more).

Every change lands in the key's change trail (``KeyChange``) with the
request's id; the services in ``services.accounts.apikeys`` do the work,
as they do for the management commands and the admin."""

from __future__ import annotations

import datetime
from typing import Any

from rest_framework.decorators import action
from rest_framework.response import Response

from ..errors import GatewayError, InvalidRequest
from ..services.accounts import apikeys
from . import key_shapes as k
from .base import GatewayViewSet, list_body, validated
from .schema import answers, operation
from .shapes import shaped, shaped_list


def settings_of(data: dict[str, Any]) -> dict[str, Any]:
    """Validated request fields as the service takes them (times as datetimes)."""
    values = dict(data)
    if "name" in values:
        values["name"] = values["name"].strip()
    if values.get("expires_at") is not None:
        values["expires_at"] = datetime.datetime.fromtimestamp(values["expires_at"], datetime.UTC)
    return values


class KeyViewSet(GatewayViewSet):
    """``/v1/keys``."""

    lookup_url_kwarg = "key_id"

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not request.user.is_master:
            raise GatewayError(
                "The keys API is for the master key only.",
                code="master_key_required",
                status_code=403,
                error_type="permission_error",
            )

    def body(self, serializer_class) -> dict[str, Any]:
        data = self.request.data
        if not hasattr(data, "keys"):
            raise InvalidRequest("The request body must be a JSON object.")
        return validated(serializer_class, data)

    def request_id(self) -> str:
        return getattr(self.request, "ftproxy_request_id", "")

    def answer(self, made: apikeys.Made, *secrets: str) -> Response:
        body = shaped(k.ApiKeyObject, made.key)
        if "key" in secrets:
            body["key"] = made.secret
        if "webhook_secret" in secrets:
            body["webhook_secret"] = made.webhook_secret
        return Response(body)

    @operation(
        request=k.KeyCreateSerializer,
        responses=answers(k.KeyCreated, post=True, master_only=True),
        operation_id="keys_create",
        summary="Create an API key",
        description="Create an API key; its secret is in this answer only (`key`), with the "
        "webhook signing secret when a `webhook_url` is given.",
    )
    def create(self, request) -> Response:
        ctx = self.context()
        ctx.note(action="keys.create")
        values = settings_of(self.body(k.KeyCreateSerializer))
        made = apikeys.create_key(apikeys.API_ACTOR, values, request_id=self.request_id())
        ctx.note(object_id=apikeys.public_id(made.key))
        return self.answer(made, "key", "webhook_secret")

    @operation(
        parameters=[k.KeyListQuerySerializer],
        responses=answers(k.KeyList, master_only=True),
        operation_id="keys_list",
        summary="List API keys",
        description="Every API key, revoked ones included, newest first, cursor-paged with "
        "`after`. Never their secrets.",
    )
    def list(self, request) -> Response:
        ctx = self.context()
        ctx.note(action="keys.list")
        query = validated(k.KeyListQuerySerializer, request.query_params.dict())
        keys, has_more = apikeys.list_keys(after=query.get("after"), limit=query["limit"])
        return Response(list_body(shaped_list(k.ApiKeyObject, keys), has_more, with_ids=True))

    @operation(
        responses=answers(k.ApiKeyObject, master_only=True),
        operation_id="keys_retrieve",
        summary="Retrieve an API key",
        description="One API key's settings and state (never its secret).",
    )
    def retrieve(self, request, key_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="keys.retrieve", object_id=key_id)
        return Response(shaped(k.ApiKeyObject, apikeys.find_key(key_id)))

    @operation(
        request=k.KeySettingsSerializer,
        responses=answers(k.KeyUpdated, post=True, master_only=True),
        operation_id="keys_update",
        summary="Update an API key",
        description="Change a key's name, budget, job quota, webhook URL, allowlists or "
        "expiry; fields left out stay as they are, null clears one.",
    )
    def update(self, request, key_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="keys.update", object_id=key_id)
        values = settings_of(self.body(k.KeySettingsSerializer))
        key = apikeys.find_key(key_id)
        made = apikeys.update_key(apikeys.API_ACTOR, key, values, request_id=self.request_id())
        return self.answer(made, "webhook_secret")

    @operation(
        request=None,
        responses=answers(k.ApiKeyObject, post=True, master_only=True),
        operation_id="keys_revoke",
        summary="Revoke an API key",
        description="Revoke a key for good: its secret, and one rotated out, are refused "
        "from now on (401). Its files, jobs and audit entries stay.",
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, key_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="keys.revoke", object_id=key_id)
        key = apikeys.revoke_key(
            apikeys.API_ACTOR, apikeys.find_key(key_id), request_id=self.request_id()
        )
        return Response(shaped(k.ApiKeyObject, key))

    @operation(
        request=k.KeyRotateSerializer,
        responses=answers(k.KeyRotated, post=True, master_only=True),
        operation_id="keys_rotate",
        summary="Rotate an API key",
        description="Give a key a new secret (in this answer only, as `key`); the old one "
        "keeps working for `grace_period_seconds` (default 24 hours, at most 7 days).",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, key_id: str) -> Response:
        ctx = self.context()
        ctx.note(action="keys.rotate", object_id=key_id)
        query = self.body(k.KeyRotateSerializer)
        seconds = query.get("grace_period_seconds")
        grace = apikeys.DEFAULT_GRACE if seconds is None else datetime.timedelta(seconds=seconds)
        made = apikeys.rotate_key(
            apikeys.API_ACTOR, apikeys.find_key(key_id), grace, request_id=self.request_id()
        )
        return self.answer(made, "key", "webhook_secret")
