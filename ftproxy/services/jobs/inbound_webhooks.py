"""Webhooks in: OpenAI tells the gateway that one of its jobs changed.

An OpenAI fine-tuning entry with ``webhook_secret`` accepts OpenAI's
Standard Webhooks at ``POST /v1/webhooks/<entry name>``. The signature is
the authentication: ``webhook-id``, ``webhook-timestamp`` (at most five
minutes off) and ``webhook-signature`` must match the body, or nothing
happens. A ``fine_tuning.job.*`` event for a job in the ledger refreshes
that job from OpenAI at once, through the same path as a retrieve, so its
status, events and the key's own outgoing webhook follow without waiting
for a sync round. Events for unknown jobs, and other event types, are
acknowledged and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from ...conf import FINE_TUNING, gateway
from ...errors import InvalidRequest, NotFoundError
from ...models import FineTuningJob, LedgerState
from ...validation.text import unstorable
from ..ledger.context import CallContext
from .service import run_job_hook

JOB_EVENT_PREFIX = "fine_tuning.job."


def _secret(entry: str) -> str:
    provider = gateway().provider(FINE_TUNING, entry)
    secret = provider.entry.get("webhook_secret") if provider is not None else None
    if not secret:
        raise NotFoundError(
            f"No webhook receiver is configured for {entry!r} (set webhook_secret on an "
            "openai entry of finetune_settings)."
        )
    return secret


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The event, if ``body`` and ``headers`` carry a valid signature with
    ``secret`` and a timestamp within five minutes; else a 400. A ``whsec_``
    secret is base64 (as OpenAI issues them); another is used as bytes,
    as the ``openai`` SDK does."""
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode("utf-8")
    try:
        Webhook(key).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError, TypeError) as exc:
        # ValueError: a malformed header or body (bad base64, no comma, not UTF-8).
        reason = str(exc) if isinstance(exc, WebhookVerificationError) else "malformed"
        raise InvalidRequest(
            f"Invalid webhook signature: {reason}.",
            param="webhook-signature",
            code="invalid_signature",
        ) from None
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        event = None
    if not isinstance(event, dict):
        raise InvalidRequest("The webhook body must be a JSON object.", code="invalid_json")
    return event


def _text(value: Any, where: str) -> str:
    """``value`` as text the ledger can store (it is recorded and looked up)."""
    text = str(value or "")
    reason = unstorable(text)
    if reason is not None:
        raise InvalidRequest(f"The webhook's {where} {reason}.", code="invalid_json")
    return text


def receive_openai_webhook(
    ctx: CallContext, entry: str, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Verify one webhook from OpenAI for ``entry`` and act on it; return
    what was done, for the answer."""
    ctx.note(action="webhooks.receive", provider=entry)
    event = verify(_secret(entry), body, headers)
    event_type = _text(event.get("type"), "type")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    remote_id = _text(data.get("id"), "data.id")
    if not event_type.startswith(JOB_EVENT_PREFIX) or not remote_id:
        return {"received": True, "action": "ignored", "reason": f"event type {event_type!r}"}
    job = FineTuningJob.objects.filter(
        provider=entry, remote_id=remote_id, ledger_state=LedgerState.OK
    ).first()
    ctx.note(object_id=remote_id)
    if job is None:
        return {"received": True, "action": "ignored", "reason": "unknown job"}
    ctx.note(object_id=job.public_id)
    run_job_hook(ctx, job, "retrieve", source="webhook")
    return {"received": True, "action": "refreshed", "job": job.public_id, "status": job.status}
