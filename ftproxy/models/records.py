"""The gateway's own records: the audit trail, idempotency keys, sync
rounds (and the dashboard that reads them)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .keys import ApiKey


class AuditEntry(models.Model):
    """One row per API call, including failed and unauthenticated ones."""

    created = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, db_index=True)
    key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    key_prefix = models.CharField(
        max_length=32, blank=True, help_text="'master' for the master key."
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    action = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    status_code = models.PositiveSmallIntegerField()
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    upstream_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"


class IdempotencyRecord(models.Model):
    """The stored first response to a request with an ``Idempotency-Key``."""

    scope = models.CharField(max_length=100, help_text="Key prefix or 'master'.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    #: The ledger row the request recorded (its public id when recorded),
    #: so a retry after a crash finds it and resolves it.
    object_id = models.CharField(max_length=200, blank=True)
    #: While in flight: when the request's own time limit is over (a
    #: request still in flight then has died).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="ftproxy_idempotency_key")
        ]


class SyncRound(models.Model):
    """One finished round of the job sync (any worker): what the admin's
    dashboard and ``/metrics`` show as sync health. Rows older than
    ``SYNC_ROUND_RETENTION_DAYS`` are pruned by the rounds themselves."""

    started = models.DateTimeField()
    finished = models.DateTimeField(default=timezone.now, db_index=True)
    worker = models.CharField(max_length=100, help_text="host:pid:uuid of the round.")
    checked = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    first_error = models.TextField(blank=True, help_text="The first failure of the round.")

    class Meta:
        ordering = ["-finished", "-id"]

    def __str__(self) -> str:
        return f"sync at {self.finished:%Y-%m-%d %H:%M:%S}: {self.failed}/{self.checked} failed"


#: How long sync rounds stay in the ledger.
SYNC_ROUND_RETENTION_DAYS = 7


class Dashboard(SyncRound):
    """No data of its own: gives the admin's dashboard its place in the
    admin index (``/admin/ftproxy/dashboard/``) and its view permission."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class ModelShutdown(SyncRound):
    """No data of its own: gives the admin's page of fine-tuned models about
    to shut down its place in the admin index and its view permission."""

    class Meta:
        proxy = True
        verbose_name = "model shutdown"
        verbose_name_plural = "model shutdowns"
