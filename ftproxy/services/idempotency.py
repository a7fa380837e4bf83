"""``Idempotency-Key``: the first response is stored per caller and key and
replayed for 24 hours; the same key with a different request is a 400."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import InvalidRequest, RetryLater
from ..models import IdempotencyRecord
from .context import CallContext

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def fingerprint(*parts: Any) -> str:
    """A stable digest of what makes two requests the same."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_once(
    ctx: CallContext,
    key: str | None,
    request_fingerprint: str,
    produce: Callable[[], tuple[int, Any]],
) -> tuple[int, Any, bool]:
    """Run ``produce`` (returning status and JSON body) at most once per
    caller and ``key``; return (status, body, replayed)."""
    if not key:
        status, body = produce()
        return status, body, False
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.", param="Idempotency-Key"
        )
    scope = ctx.caller.scope
    IdempotencyRecord.objects.filter(
        scope=scope, key=key, created__lt=timezone.now() - TTL
    ).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                scope=scope, key=key, fingerprint=request_fingerprint
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.fingerprint != request_fingerprint:
            raise InvalidRequest(
                "This Idempotency-Key was already used with a different request.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            ) from None
        if record.status_code is None:
            raise RetryLater(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            ) from None
        ctx.note(action=f"{ctx.audit.get('action', '')}.replay")
        return record.status_code, record.response_body, True
    try:
        status, body = produce()
    except BaseException:
        # Nothing was stored: the same key may be tried again.
        record.delete()
        raise
    record.status_code = status
    record.response_body = body
    record.save(update_fields=["status_code", "response_body"])
    return status, body, False
