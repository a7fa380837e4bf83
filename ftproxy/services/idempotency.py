"""``Idempotency-Key``: the first response is stored per caller and key and
replayed for 24 hours; the same key with a different request is a 400."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..errors import InvalidRequest, RetryLater, envelope, may_have_happened
from ..models import IdempotencyRecord
from .context import CallContext

TTL = timedelta(hours=24)
#: An in-flight record older than this belongs to a request that died (the
#: longest upstream call, with retries, is well within it): the key is free.
IN_FLIGHT = timedelta(minutes=30)
MAX_KEY_LENGTH = 255


def fingerprint(*parts: Any) -> str:
    """A stable digest of what makes two requests the same."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_once(
    ctx: CallContext,
    key: str | None,
    request_fingerprint: str | None,
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
    record = _claim(ctx.caller.scope, key, request_fingerprint)
    if record.status_code is not None:
        ctx.note(action=f"{ctx.audit.get('action', '')}.replay")
        return record.status_code, record.response_body, True
    try:
        status, body = produce()
    except Exception as exc:
        if not may_have_happened(exc):
            record.delete()  # nothing happened upstream: the key may be tried again
            raise
        # The create may have happened upstream: the same key must not run it
        # again, so it replays this answer.
        _store(
            record,
            getattr(exc, "status_code", 500),
            envelope(
                f"{getattr(exc, 'message', None) or 'The gateway failed mid-request.'} "
                "The outcome is unknown: the provider may have acted on the request. This "
                "Idempotency-Key replays this answer; list your files or jobs before trying again "
                "with a new key.",
                "server_error",
                None,
                "outcome_unknown",
            ),
        )
        raise
    except BaseException:
        record.delete()
        raise
    _store(record, status, body)
    return status, body, False


def _store(record: IdempotencyRecord, status: int, body: Any) -> None:
    """Keep the answer for replays. An update, not a save: if the request
    ran so long that its key was freed and taken again, its answer is
    simply not kept (the client gets it all the same)."""
    IdempotencyRecord.objects.filter(pk=record.pk, fingerprint=record.fingerprint).update(
        status_code=status, response_body=body
    )


def _claim(scope: str, key: str, request_fingerprint: str) -> IdempotencyRecord:
    """The caller's record for ``key``: a new in-flight one (status_code None)
    that this request now owns, or the finished one to replay."""
    now = timezone.now()
    for _ in range(3):
        # Expired records, and in-flight ones whose request died, free the key.
        IdempotencyRecord.objects.filter(scope=scope, key=key).filter(
            Q(created__lt=now - TTL) | Q(status_code__isnull=True, created__lt=now - IN_FLIGHT)
        ).delete()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    scope=scope, key=key, fingerprint=request_fingerprint
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if record is None:
            continue  # the other request failed and let the key go: try again
        if record.fingerprint != request_fingerprint:
            raise InvalidRequest(
                "This Idempotency-Key was already used with a different request.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        if record.status_code is None:
            raise RetryLater(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
        return record
    raise RetryLater("This Idempotency-Key is contended; retry shortly.")
