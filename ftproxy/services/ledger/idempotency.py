"""``Idempotency-Key``: the first response is stored per caller and key and
replayed for 24 hours; the same key with a different request is a 400."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ...errors import GatewayError, InvalidRequest, RetryLater, envelope, may_have_happened
from ...models import File, FineTuningJob, IdempotencyRecord, LedgerState, Upload
from .context import CallContext
from .reconcile import reconcile, request_limit

#: Records claimed before ``expires_at`` existed: their request is over after this.
LEGACY_IN_FLIGHT = timedelta(minutes=30)

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: ``IdempotencyRecord.object_id`` prefixes, by ledger model.
ROW_KINDS = {"job": FineTuningJob, "file": File, "upload": Upload}


def fingerprint(*parts: Any) -> str:
    """A stable digest of what makes two requests the same."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_once(
    ctx: CallContext,
    key: str | None,
    request_fingerprint: str | None,
    produce: Callable[[], tuple[int, Any]],
    answer: Callable[[Any], Any] | None = None,
    settle: Callable[[Any], str] = reconcile,
) -> tuple[int, Any, bool]:
    """Run ``produce`` (returning status and JSON body) at most once per
    caller and ``key``; return (status, body, replayed). ``answer`` makes
    the body for a ledger row (when a claim is settled from its row);
    ``settle`` settles that row and says its ledger state (``reconcile``
    for files and jobs; a higher service passes its own for its rows).

    The claim, the ledger row it is tied to and the outcome form one state
    machine: the claim expires with the request's own time limit; a retry
    that finds a claim whose request is over resolves it through the row
    (``reconcile``) instead of running again."""
    if not key:
        status, body = produce()
        return status, body, False
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.", param="Idempotency-Key"
        )
    record = _claim(ctx.caller.scope, key, request_fingerprint, answer, settle)
    if record.status_code is not None:
        ctx.note(action=f"{ctx.audit.get('action', '')}.replay")
        return record.status_code, record.response_body, True
    ctx.on_record = lambda row, provider: _tie(record, row, provider)
    try:
        status, body = produce()
    except Exception as exc:
        if not (ctx.reached_provider and may_have_happened(exc)):
            _free(record)  # nothing happened upstream: the key may be tried again
            raise
        # The create may have happened upstream: the same key must not run it
        # again; it replays this answer until the row is settled.
        with contextlib.suppress(DatabaseError):  # then the claim expires by itself
            _store(record, getattr(exc, "status_code", 500), outcome_unknown(exc))
        raise
    except BaseException:
        _free(record)
        raise
    _store(record, status, body)
    return status, body, False


def outcome_unknown(exc: BaseException | None = None) -> dict[str, Any]:
    """The answer replayed for a create whose outcome is unknown."""
    message = getattr(exc, "message", None) or "The gateway failed mid-request."
    return envelope(
        f"{message} The outcome is unknown: the provider may have acted on the request. This "
        "Idempotency-Key replays this answer until the gateway has settled it; list your files "
        "or jobs before trying again with a new key.",
        "server_error",
        None,
        "outcome_unknown",
    )


def _free(record: IdempotencyRecord) -> None:
    with contextlib.suppress(DatabaseError):  # then the claim expires by itself
        IdempotencyRecord.objects.filter(pk=record.pk, fingerprint=record.fingerprint).delete()


def _tie(record: IdempotencyRecord, row: Any, provider: Any) -> None:
    """The request recorded ``row`` for ``provider``: the claim points at it
    and lasts as long as a call to that provider can."""
    kind = next(name for name, model in ROW_KINDS.items() if isinstance(row, model))
    record.object_id = f"{kind}:{row.pk}"
    record.expires_at = timezone.now() + request_limit(provider)
    IdempotencyRecord.objects.filter(pk=record.pk, fingerprint=record.fingerprint).update(
        object_id=record.object_id, expires_at=record.expires_at
    )


def _store(record: IdempotencyRecord, status: int, body: Any) -> None:
    """Keep the answer for replays. An update, not a save: if the request
    ran so long that its key was freed and taken again, its answer is
    simply not kept (the client gets it all the same)."""
    IdempotencyRecord.objects.filter(pk=record.pk, fingerprint=record.fingerprint).update(
        status_code=status, response_body=body
    )
    record.status_code, record.response_body = status, body


def _row(record: IdempotencyRecord) -> Any | None:
    kind, _, pk = record.object_id.partition(":")
    model = ROW_KINDS.get(kind)
    if model is None or not pk.isdigit():
        return None
    return model.objects.filter(pk=int(pk)).first()


def _over(record: IdempotencyRecord, now) -> bool:
    """Whether the record's request is surely over."""
    expires = record.expires_at or (record.created + LEGACY_IN_FLIGHT)
    return expires <= now


def _resolve(
    record: IdempotencyRecord,
    answer: Callable[[Any], Any] | None,
    settle: Callable[[Any], str] = reconcile,
) -> IdempotencyRecord | None:
    """Settle a claim whose request is over from the ledger row it recorded.
    Returns the record, now holding the answer to replay, or None when the
    key is free again (nothing happened upstream)."""
    row = _row(record)
    state = settle(row) if row is not None else LedgerState.FAILED
    if state == LedgerState.OK:
        _store(record, 200, answer(row) if answer else {"id": row.public_id})
        return record
    if state == LedgerState.FAILED:
        _free(record)
        return None
    if state == LedgerState.UNKNOWN:
        if record.status_code is None:
            _store(record, 502, outcome_unknown())
        return record
    if record.status_code is not None:
        return record  # the provider did not answer the lookup: the answer stands
    raise GatewayError(  # pending: the provider did not answer the lookup
        "The earlier request with this Idempotency-Key is not settled yet (its provider did not "
        "answer); retry shortly.",
        code="outcome_pending",
        status_code=503,
        error_type="server_error",
    )


def _claim(
    scope: str,
    key: str,
    request_fingerprint: str,
    answer: Callable[[Any], Any] | None = None,
    settle: Callable[[Any], str] = reconcile,
) -> IdempotencyRecord:
    """The caller's record for ``key``: a new in-flight one (status_code None)
    that this request now owns, or the finished one to replay."""
    for _ in range(3):
        now = timezone.now()
        IdempotencyRecord.objects.filter(scope=scope, key=key, created__lt=now - TTL).delete()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    fingerprint=request_fingerprint,
                    expires_at=now + request_limit(),
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if record is None:
            continue  # the other request failed and let the key go: try again
        same = record.fingerprint == request_fingerprint
        in_flight = record.status_code is None
        if in_flight and not _over(record, now):
            if same:
                raise RetryLater(
                    "A request with this Idempotency-Key is still being processed; retry shortly."
                )
        elif in_flight or (same and record.status_code >= 500 and record.object_id):
            # Its request is over and its outcome may be unsettled: settle it.
            record = _resolve(record, answer, settle) if in_flight or _over(record, now) else record
            if record is None:
                continue  # freed: this request may run
        if not same:
            raise InvalidRequest(
                "This Idempotency-Key was already used with a different request.",
                param="Idempotency-Key",
                code="idempotency_key_reused",
            )
        return record
    raise RetryLater("This Idempotency-Key is contended; retry shortly.")
