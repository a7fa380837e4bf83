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
within ``DELIVERY_TIMEOUT`` seconds is success; anything else is retried
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
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from standardwebhooks import Webhook

from ... import metrics
from ...models import ApiKey, FineTuningJob, WebhookDelivery, WebhookEvent, WebhookState

logger = logging.getLogger("ftproxy.webhooks")

SECRET_PREFIX = "whsec_"
#: A receiver must answer 2xx within this many seconds.
DELIVERY_TIMEOUT = 10.0
#: Failed deliveries are retried for this long, then given up.
RETRY_WINDOW = timedelta(hours=24)
#: The first retry waits this long; each next one twice as long, up to MAX_BACKOFF.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=4)
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
    *, should_stop: Callable[[], bool] | None = None, batch_size: int = BATCH_SIZE
) -> DeliveryResult:
    """Attempt every event that is due now, once each; return the counts.
    Safe to run in several processes at once on PostgreSQL."""
    owner = f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    result = DeliveryResult()
    row_locking = bool(connection.features.has_select_for_update_skip_locked)
    started = timezone.now()
    #: Keys whose receiver could not be reached in this round: their other
    #: events wait for the next round, so one dead endpoint (each attempt up
    #: to DELIVERY_TIMEOUT) cannot hold up the round for everyone else.
    unreachable: set[int] = set()
    while not (should_stop and should_stop()):
        due = _due(started).exclude(key_id__in=unreachable)
        batch = _claim(due, owner=owner, size=batch_size, row_locking=row_locking)
        if not batch:
            break
        for pk in batch:
            try:
                outcome = _deliver_one(pk, owner, unreachable)
            except Exception:  # a bug or a database error: keep delivering the others
                logger.exception("delivery of webhook event %s failed unexpectedly", pk)
                WebhookEvent.objects.filter(pk=pk, lease_owner=owner).update(
                    lease_owner="",
                    lease_expires_at=None,
                    next_attempt_at=timezone.now() + FIRST_BACKOFF,
                )
                continue
            if outcome is None:
                continue
            result.attempted += 1
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


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


def _deliver_one(pk: int, owner: str, unreachable: set[int] | None = None) -> str | None:
    """One attempt for a claimed event; returns its outcome ("delivered",
    "retrying", "failed") or None if the event is no longer ours, or waits
    for the next round because its key's receiver is in ``unreachable``
    (a key is added when its receiver cannot be connected to or times out)."""
    event = WebhookEvent.objects.select_related("key").filter(pk=pk, lease_owner=owner).first()
    if event is None:
        return None
    if unreachable is not None and event.key_id in unreachable:
        WebhookEvent.objects.filter(pk=pk, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None
        )
        return None
    key = event.key
    if not key.webhook_url or not key.webhook_secret:
        attempt = WebhookDelivery(event=event, url="", error="The key has no webhook URL now.")
        return record_outcome(event, owner, attempt, final=True)
    body = body_of(event)
    attempt = WebhookDelivery(event=event, url=key.webhook_url, attempted_at=timezone.now())
    headers = signed_headers(key.webhook_secret, event.event_id, body, attempt.attempted_at)
    started = time.monotonic()
    try:
        with requests.post(
            key.webhook_url,
            data=body.encode("utf-8"),
            headers=headers,
            timeout=DELIVERY_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as response:
            attempt.status_code = response.status_code
            if not 200 <= response.status_code < 300:
                try:
                    text = response.raw.read(MAX_ERROR_LENGTH, decode_content=True)
                except Exception:  # the answer broke off: its status is what counts
                    text = b""
                attempt.error = f"HTTP {response.status_code}: " + text.decode("utf-8", "replace")
    except requests.RequestException as exc:
        attempt.error = f"{type(exc).__name__}: {exc}"
        if unreachable is not None and isinstance(exc, requests.ConnectionError | requests.Timeout):
            unreachable.add(event.key_id)
    seconds = time.monotonic() - started
    attempt.duration_ms = int(seconds * 1000)
    attempt.succeeded = attempt.status_code is not None and 200 <= attempt.status_code < 300
    if attempt.succeeded and seconds > DELIVERY_TIMEOUT:
        attempt.succeeded = False
        attempt.error = f"answered after {seconds:.1f} s (more than {DELIVERY_TIMEOUT:g} s)"
    attempt.error = attempt.error[:MAX_ERROR_LENGTH]
    return record_outcome(event, owner, attempt)


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
