"""Outgoing webhooks: a key's jobs tell its owner when their status changes.

A key with a ``webhook_url`` gets one ``WebhookEvent`` per status change
of each of its jobs, written by ``enqueue_job_event`` in the transaction
that writes the ``JobEvent`` (so a change is never recorded without its
event, nor the other way round)::

    {"id": "evt_…", "object": "event", "type": "fine_tuning.job.<status>",
     "created_at": 1700000000, "data": {"id": "<public job id>"}}

``deliver_due`` sends what is due, signed as Standard Webhooks (and OpenAI)
do: headers ``webhook-id`` (the event id, the same on every attempt),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64
HMAC-SHA256 of ``id.timestamp.body`` with the key's ``whsec_`` secret), so
the ``openai`` SDK's ``client.webhooks.unwrap`` accepts them. A 2xx answer
within ``DELIVERY_TIMEOUT`` seconds in all (connect, headers and a capped
body read: ``delivery``) is success; anything else is retried
with exponential backoff until ``RETRY_WINDOW`` has passed since the event
was queued (or resent), then the event is marked failed. Every attempt is a
``WebhookDelivery`` row.

Claiming works like the job sync: with ``SELECT … FOR UPDATE SKIP LOCKED``
in a short transaction that writes a lease, so several workers on
PostgreSQL never send one attempt twice; on SQLite a conditional UPDATE
(one process).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from standardwebhooks import Webhook

from ... import metrics
from ...models import ApiKey, FineTuningJob, WebhookDelivery, WebhookEvent, WebhookState
from .delivery import DELIVERY_WORKERS, Sent, post, send_in_order

logger = logging.getLogger("ftproxy.webhooks")

SECRET_PREFIX = "whsec_"
#: A receiver must answer 2xx within this many seconds.
DELIVERY_TIMEOUT = 10.0
#: Failed deliveries are retried for this long, then given up.
RETRY_WINDOW = timedelta(hours=24)
#: The first retry waits this long; each next one twice as long, up to MAX_BACKOFF.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=4)
#: How long a sync round delivers before it syncs again (``deliver_due``'s budget).
ROUND_BUDGET_SECONDS = 5.0
#: Events claimed per transaction, and how long a claim holds (a claim
#: covers one batch of sequential attempts, each at most DELIVERY_TIMEOUT).
BATCH_SIZE = 10
LEASE_SECONDS = 300
#: How much of a failing receiver's answer is kept.
MAX_ERROR_LENGTH = 500
USER_AGENT = "ftproxy-webhooks/1"


def new_secret() -> str:
    """A signing secret as Standard Webhooks and OpenAI write them: ``whsec_`` + base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def set_webhook_url(key: ApiKey, url: str | None) -> str | None:
    """Set (or, with None or "", remove) the key's webhook URL. A key that
    had no secret gets one; removing the URL drops the secret. Returns the
    new secret, to show once, or None when none was made."""
    url = (url or "").strip()
    made = None
    if not url:
        key.webhook_url, key.webhook_secret = "", ""
    else:
        key.webhook_url = url
        if not key.webhook_secret:
            made = key.webhook_secret = new_secret()
    key.save(update_fields=["webhook_url", "webhook_secret"])
    return made


def rotate_secret(key: ApiKey) -> str:
    """Give the key a new signing secret (it needs a webhook URL); return it,
    to show once. Deliveries from now on are signed with it."""
    if not key.webhook_url:
        raise ValueError("the key has no webhook URL")
    key.webhook_secret = new_secret()
    key.save(update_fields=["webhook_secret"])
    return key.webhook_secret


# --------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------


def event_type(status: str) -> str:
    return f"fine_tuning.job.{status}"


def enqueue_job_event(job: FineTuningJob) -> WebhookEvent | None:
    """Queue the event for ``job``'s new status, if its key has a webhook
    URL. Call inside the transaction that records the status change."""
    if job.owner_id is None or not job.status:
        return None
    url = ApiKey.objects.filter(pk=job.owner_id).values_list("webhook_url", flat=True).first()
    if not url:
        return None
    now = timezone.now()
    event_id = f"evt_{secrets.token_hex(16)}"
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type(job.status),
        "created_at": int(now.timestamp()),
        "data": {"id": job.public_id},
    }
    return WebhookEvent.objects.create(
        event_id=event_id,
        key_id=job.owner_id,
        job=job,
        event_type=payload["type"],
        payload=payload,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
        created=now,
    )


def resend(events: Iterable[WebhookEvent]) -> int:
    """Queue the events again, due now, with a fresh retry window (the
    admin's "resend"). Their ``webhook-id`` stays the same. Returns how many."""
    now = timezone.now()
    ids = [event.pk for event in events]
    return WebhookEvent.objects.filter(pk__in=ids).update(
        state=WebhookState.PENDING,
        next_attempt_at=now,
        give_up_at=now + RETRY_WINDOW,
        lease_owner="",
        lease_expires_at=None,
    )


# --------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------


def body_of(event: WebhookEvent) -> str:
    """The exact JSON text sent (and signed): the same on every attempt."""
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed at ``at``."""
    signature = Webhook(secret).sign(msg_id=event_id, timestamp=at, data=body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, … 4 h."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DeliveryResult:
    """What one ``deliver_due`` call did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"webhooks: attempted={self.attempted} delivered={self.delivered} "
            f"retrying={self.retrying} failed={self.failed}"
        )


def deliver_due(
    *,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float | None = None,
    timeout: float = DELIVERY_TIMEOUT,
    workers: int = DELIVERY_WORKERS,
) -> DeliveryResult:
    """Attempt every event that is due now, once each; return the counts.
    Safe to run in several processes at once on PostgreSQL.

    Each attempt has ``timeout`` seconds in all (``delivery.post``); up to
    ``workers`` keys' receivers are sent to at once, each key's events in
    order. With ``budget_seconds`` no attempt starts once that long has
    passed (the sync's rounds deliver so): what is left waits for the next
    round, so a round lasts at most about the budget plus one ``timeout``."""
    owner = f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    result = DeliveryResult()
    row_locking = bool(connection.features.has_select_for_update_skip_locked)
    started = timezone.now()
    stop_at = None if budget_seconds is None else time.monotonic() + budget_seconds
    #: Keys whose receiver could not be reached in this round: their other
    #: events wait for the next round, so one dead endpoint (each attempt up
    #: to ``timeout``) cannot hold up the round for everyone else.
    unreachable: set[int] = set()

    def send(ready: Ready) -> Sent:  # in a pool thread: no database
        try:
            return post(
                ready.attempt.url,
                ready.body.encode("utf-8"),
                ready.headers,
                deadline=timeout,
                cap=MAX_ERROR_LENGTH,
            )
        except Exception as exc:  # a bug: recorded as the attempt's error
            logger.exception("sending webhook event %s failed", ready.event.event_id)
            return Sent(error=f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="ftproxy-webhooks") as pool:
        while not (should_stop and should_stop()):
            if stop_at is not None and time.monotonic() >= stop_at:
                break
            due = _due(started).exclude(key_id__in=unreachable)
            batch = _claim(due, owner=owner, size=batch_size, row_locking=row_locking)
            if not batch:
                break
            by_key: dict[int, list[Ready]] = {}
            for pk in batch:
                ready = _guarded(pk, owner, result, lambda pk=pk: _prepare(pk, owner))
                if isinstance(ready, Ready):
                    by_key.setdefault(ready.event.key_id, []).append(ready)
            tasks = [pool.submit(send_in_order, items, send, stop_at) for items in by_key.values()]
            for task in as_completed(tasks):
                done, unsent = task.result()
                for ready, sent in done:
                    if sent.unreachable:
                        unreachable.add(ready.event.key_id)
                    _guarded(ready.event.pk, owner, result, lambda r=ready, s=sent: _record(r, s))
                _release([ready.event.pk for ready in unsent], owner)
    return result


def _guarded(pk: int, owner: str, result: DeliveryResult, step: Callable[[], Any]) -> Any:
    """Run one event's ``step``; an outcome ("delivered", …) is counted. A
    bug or a database error postpones that event and the others go on."""
    try:
        outcome = step()
    except Exception:
        logger.exception("delivery of webhook event %s failed unexpectedly", pk)
        WebhookEvent.objects.filter(pk=pk, lease_owner=owner).update(
            lease_owner="",
            lease_expires_at=None,
            next_attempt_at=timezone.now() + FIRST_BACKOFF,
        )
        return None
    if isinstance(outcome, str):
        result.attempted += 1
        setattr(result, outcome, getattr(result, outcome) + 1)
    return outcome


def _release(pks: list[int], owner: str) -> None:
    """Give claimed events back unattempted: they wait for the next round."""
    if pks:
        WebhookEvent.objects.filter(pk__in=pks, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None
        )


def _due(cutoff: datetime) -> QuerySet[WebhookEvent]:
    """Pending events due by ``cutoff`` and not leased by a live worker (an
    event retried later than ``cutoff`` waits for the next round)."""
    now = timezone.now()
    return WebhookEvent.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now),
        state=WebhookState.PENDING,
        next_attempt_at__lte=cutoff,
    )


def _claim(due: QuerySet[WebhookEvent], *, owner: str, size: int, row_locking: bool) -> list[int]:
    expires = timezone.now() + timedelta(seconds=LEASE_SECONDS)
    ordered = due.order_by("next_attempt_at", "id")
    if row_locking:
        with transaction.atomic():
            pks = list(
                ordered.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size]
            )
            WebhookEvent.objects.filter(pk__in=pks).update(
                lease_owner=owner, lease_expires_at=expires
            )
        return pks
    claimed = []
    for pk in ordered.values_list("pk", flat=True)[:size]:
        if due.filter(pk=pk).update(lease_owner=owner, lease_expires_at=expires):
            claimed.append(pk)
    return claimed


@dataclass
class Ready:
    """A claimed event's attempt, signed and ready to send."""

    event: WebhookEvent
    owner: str
    attempt: WebhookDelivery
    body: str
    headers: dict[str, str]


def _prepare(pk: int, owner: str) -> Ready | str | None:
    """A claimed event's attempt, ready to send; or the outcome when there
    is nothing to send ("failed": the key has no webhook URL now); None if
    the event is no longer ours."""
    event = WebhookEvent.objects.select_related("key").filter(pk=pk, lease_owner=owner).first()
    if event is None:
        return None
    key = event.key
    if not key.webhook_url or not key.webhook_secret:
        attempt = WebhookDelivery(event=event, url="", error="The key has no webhook URL now.")
        return record_outcome(event, owner, attempt, final=True)
    body = body_of(event)
    attempt = WebhookDelivery(event=event, url=key.webhook_url, attempted_at=timezone.now())
    headers = signed_headers(key.webhook_secret, event.event_id, body, attempt.attempted_at)
    return Ready(event=event, owner=owner, attempt=attempt, body=body, headers=headers)


def _record(ready: Ready, sent: Sent) -> str:
    """Record what one attempt came to."""
    attempt = ready.attempt
    attempt.status_code = sent.status_code
    attempt.error = sent.error[:MAX_ERROR_LENGTH]
    attempt.duration_ms = int(sent.seconds * 1000)
    attempt.succeeded = sent.succeeded
    return record_outcome(ready.event, ready.owner, attempt)


def record_outcome(
    event: WebhookEvent, owner: str, attempt: WebhookDelivery, *, final: bool = False
) -> str:
    """Record one delivery attempt and what it means for the event:
    "delivered", "retrying" (next attempt after the backoff, at the latest
    at the end of the window) or "failed" (the window is over, or ``final``).
    Every delivery outcome passes through this one function, which counts
    it (``ftproxy_webhook_deliveries_total``)."""
    now = timezone.now()
    attempts = event.attempts + (0 if final else 1)
    fields: dict[str, object] = {
        "attempts": attempts,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
        "lease_owner": "",
        "lease_expires_at": None,
    }
    if attempt.succeeded:
        outcome = "delivered"
        fields.update(state=WebhookState.DELIVERED, delivered_at=now)
    elif final or now >= event.give_up_at:
        outcome = "failed"
        fields.update(state=WebhookState.FAILED)
    else:
        outcome = "retrying"
        fields.update(next_attempt_at=min(now + backoff(attempts), event.give_up_at))
    with transaction.atomic():
        if attempt.url:
            attempt.save()
        WebhookEvent.objects.filter(pk=event.pk, lease_owner=owner).update(**fields)
    metrics.count_webhook_delivery(outcome)
    log = logger.info if outcome == "delivered" else logger.warning
    log(
        "webhook %s (%s) to key %s: %s after attempt %d%s",
        event.event_id,
        event.event_type,
        event.key.prefix,
        outcome,
        attempts,
        f" ({attempt.error[:200]})" if attempt.error else "",
    )
    return outcome
