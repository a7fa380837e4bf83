"""What to retrain before it is gone: fine-tuned models with a shutdown date
coming up, and the ``fine_tuning.model.shutdown_approaching`` webhook.

A model's date comes from ``ftproxy.shutdowns`` (the provider's dated table
and ``ftproxy_settings.model_shutdowns``). ``upcoming`` lists the models of
every key (for the operator: ``manage.py ftproxy_shutdowns`` and the
admin's page), each with the command that retrains its job elsewhere.

``notify_approaching`` queues one event per model and threshold (30, 7 and
1 days before) for the receiver of the key that owns it: when a model is
first seen inside a threshold, the nearest one it is inside is sent (a
model first seen 5 days out gets the 7-day event, never the 30-day one
late). Each event's id is derived from the job, the model and the
threshold, so it is queued once however often this runs, on however many
hosts: a second insert of the same id is refused by the unique index. The
sync calls it each round; the events go out with the others.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ...models import ApiKey, FineTuningJob, LedgerState, WebhookEvent
from ...shutdowns import shutdown_date
from ..accounts.webhooks import RETRY_WINDOW
from .tuned_models import serving

EVENT_TYPE = "fine_tuning.model.shutdown_approaching"
#: Days before the shutdown date at which the owner's receiver is told.
THRESHOLDS = (30, 7, 1)


@dataclass(frozen=True)
class Upcoming:
    """A fine-tuned model whose shutdown date is near."""

    job: FineTuningJob
    shutdown: datetime.date
    days_left: int

    @property
    def retrain_command(self) -> str:
        """The command that re-creates its job on another entry (the entry to
        be chosen: ``ftproxy_retrain --help`` lists the ones configured)."""
        return f"python manage.py ftproxy_retrain {self.job.public_id} --provider <entry>"


def today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def upcoming(within_days: int, *, on: datetime.date | None = None) -> list[Upcoming]:
    """Models that shut down today or in the next ``within_days`` days,
    soonest first (the dates are UTC days)."""
    day = on or today()
    found = []
    jobs = serving(FineTuningJob.objects.filter(ledger_state=LedgerState.OK)).order_by("id")
    for job in jobs.iterator():
        shutdown = shutdown_date(job.provider_kind, job.model)
        if shutdown is None:
            continue
        days_left = (shutdown - day).days
        if 0 <= days_left <= within_days:
            found.append(Upcoming(job=job, shutdown=shutdown, days_left=days_left))
    found.sort(key=lambda item: (item.shutdown, item.job.pk))
    return found


def threshold_of(days_left: int) -> int | None:
    """The nearest threshold a model ``days_left`` days out is inside."""
    inside = [threshold for threshold in THRESHOLDS if days_left <= threshold]
    return min(inside) if inside else None


def event_id(job: FineTuningJob, threshold: int) -> str:
    digest = hashlib.sha256(f"{job.public_id}\n{job.fine_tuned_model}".encode()).hexdigest()
    return f"evt_shutdown_{threshold}d_{digest[:32]}"


def notify_approaching(*, on: datetime.date | None = None) -> int:
    """Queue the shutdown events now due; return how many were queued."""
    receivers = set(
        ApiKey.objects.filter(revoked=False).exclude(webhook_url="").values_list("pk", flat=True)
    )
    if not receivers:
        return 0
    queued = 0
    now = timezone.now()
    for item in upcoming(max(THRESHOLDS), on=on):
        job = item.job
        threshold = threshold_of(item.days_left)
        if threshold is None or job.owner_id not in receivers:
            continue
        evt = event_id(job, threshold)
        if WebhookEvent.objects.filter(event_id=evt).exists():
            continue
        payload = {
            "id": evt,
            "object": "event",
            "type": EVENT_TYPE,
            "created_at": int(now.timestamp()),
            "data": {
                "id": job.public_id,
                "model": job.fine_tuned_model,
                "shutdown_date": item.shutdown.isoformat(),
                "days_left": item.days_left,
                "threshold_days": threshold,
            },
        }
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    event_id=evt,
                    key_id=job.owner_id,
                    job=job,
                    event_type=EVENT_TYPE,
                    payload=payload,
                    next_attempt_at=now,
                    give_up_at=now + RETRY_WINDOW,
                    created=now,
                )
        except IntegrityError:
            continue  # queued before (here or by another host)
        queued += 1
    return queued
