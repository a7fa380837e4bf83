"""Webhook events to a key's receiver and their delivery attempts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .keys import ApiKey
from .ledger import FineTuningJob


class WebhookState(models.TextChoices):
    """Where an outgoing webhook event is in its delivery."""

    PENDING = "pending", "pending (due or retrying)"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed (gave up)"


class WebhookEvent(models.Model):
    """One outgoing webhook event for a key (a job's status change), queued
    in the transaction that recorded the change, and its delivery state."""

    event_id = models.CharField(max_length=64, unique=True, help_text="webhook-id, evt_…")
    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="webhook_events")
    job = models.ForeignKey(
        FineTuningJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(help_text="The body sent, the same on every attempt.")
    state = models.CharField(
        max_length=10, choices=WebhookState.choices, default=WebhookState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField(help_text="Retries stop after this time.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} {self.event_type}"


class WebhookDelivery(models.Model):
    """One attempt to deliver a ``WebhookEvent``: what the receiver answered."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=2000)
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.status_code or self.error[:40]}"
