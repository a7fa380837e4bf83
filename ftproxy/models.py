"""The ledger: every key, file, job, status change and API call."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.utils import timezone

KEY_PREFIX = "sk-ftp-"
KEY_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def mint_id(prefix: str) -> str:
    """A gateway-minted public id such as ``file-3f9c…`` (never contains '/')."""
    return f"{prefix}-{secrets.token_hex(12)}"


class LedgerState(models.TextChoices):
    """Where the gateway is with the upstream call that created the row."""

    PENDING = "pending", "pending (call in flight)"
    OK = "ok", "ok"
    FAILED = "failed", "failed upstream"
    #: The create may have happened upstream and the provider cannot say:
    #: an admin must look (``ledger_error`` says what is known).
    UNKNOWN = "unknown", "outcome unknown (check at the provider)"


class ApiKey(models.Model):
    """A per-user API key. Only its prefix and SHA-256 are stored."""

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=32, db_index=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def create_key(cls, name: str) -> tuple[ApiKey, str]:
        """Create a key; return the row and the raw key (shown once, never stored)."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            name=name, prefix=raw[:KEY_PREFIX_LENGTH], hashed_key=hash_key(raw)
        )
        return key, raw

    def revoke(self) -> None:
        """Revocation is final."""
        if not self.revoked:
            self.revoked = True
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked", "revoked_at"])


class LedgerRow(models.Model):
    """What files and jobs share: public and remote ids, owner, provider
    entry, raw status and payload, and the outcome of the upstream call."""

    public_id = models.CharField(max_length=200, unique=True)
    provider = models.CharField(max_length=100, help_text="Name of the configured entry.")
    provider_kind = models.CharField(max_length=40)
    remote_id = models.CharField(max_length=500, null=True, blank=True)
    owner = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for objects created with the master key.",
    )
    raw_status = models.CharField(max_length=60, blank=True)
    provider_payload = models.JSONField(default=dict, blank=True)
    ledger_state = models.CharField(
        max_length=10, choices=LedgerState.choices, default=LedgerState.PENDING
    )
    ledger_error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class File(LedgerRow):
    """A file uploaded through the gateway (or adopted by the master key)."""

    filename = models.CharField(max_length=500)
    purpose = models.CharField(max_length=40)
    bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=40, default="uploaded")
    status_details = models.TextField(null=True, blank=True)
    created_at = models.BigIntegerField(help_text="Unix seconds, as the provider reports it.")
    expires_at = models.BigIntegerField(null=True, blank=True)
    estimated_tokens = models.BigIntegerField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "remote_id"], name="ftproxy_file_remote")
        ]
        indexes = [
            models.Index(fields=["owner", "ledger_state", "deleted", "created_at", "id"]),
            models.Index(fields=["ledger_state", "deleted", "created_at", "id"]),
        ]

    def __str__(self) -> str:
        return self.public_id

    def to_openai(self) -> dict:
        return {
            "id": self.public_id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
            "status_details": self.status_details,
            "expires_at": self.expires_at,
        }


class FineTuningJob(LedgerRow):
    """A fine-tuning job, mirrored from its provider."""

    model = models.CharField(max_length=300)
    status = models.CharField(max_length=40, default="validating_files")
    terminal = models.BooleanField(default=False, help_text="The provider status is final.")
    training_file = models.CharField(max_length=500, blank=True)
    validation_file = models.CharField(max_length=500, null=True, blank=True)
    fine_tuned_model = models.CharField(max_length=500, null=True, blank=True)
    created_at = models.BigIntegerField()
    finished_at = models.BigIntegerField(null=True, blank=True)
    estimated_finish = models.BigIntegerField(null=True, blank=True)
    trained_tokens = models.BigIntegerField(null=True, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    method = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    organization_id = models.CharField(max_length=200, blank=True)
    result_files = models.JSONField(default=list, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    suffix = models.CharField(max_length=100, null=True, blank=True)
    integrations = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    estimated_cost_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    sync_error = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "fine-tuning job"
        constraints = [
            models.UniqueConstraint(fields=["provider", "remote_id"], name="ftproxy_job_remote")
        ]
        indexes = [
            models.Index(fields=["owner", "ledger_state", "created_at", "id"]),
            models.Index(fields=["ledger_state", "created_at", "id"]),
            models.Index(fields=["terminal", "synced_at"]),
        ]

    def __str__(self) -> str:
        return self.public_id

    def to_openai(self) -> dict:
        data = {
            "id": self.public_id,
            "object": "fine_tuning.job",
            "created_at": self.created_at,
            "error": self.error,
            "fine_tuned_model": self.fine_tuned_model,
            "finished_at": self.finished_at,
            "hyperparameters": self.hyperparameters or {},
            "model": self.model,
            "organization_id": self.organization_id,
            "result_files": self.result_files or [],
            "seed": self.seed,
            "status": self.status,
            "trained_tokens": self.trained_tokens,
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "estimated_finish": self.estimated_finish,
            "integrations": self.integrations,
            "metadata": self.metadata,
            "method": self.method,
        }
        return data


class JobEvent(models.Model):
    """One observed status change of a job."""

    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=40, blank=True)
    to_status = models.CharField(max_length=40)
    provider_status = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=20)
    message = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["job", "id"])]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status or '∅'} → {self.to_status}"

    @property
    def public_id(self) -> str:
        return f"ftevent-{self.pk}"

    def to_openai(self) -> dict:
        level = "error" if self.to_status == "failed" else "info"
        message = self.message or (
            f"Status changed from {self.from_status} to {self.to_status}"
            if self.from_status
            else f"Status is {self.to_status}"
        )
        return {
            "object": "fine_tuning.job.event",
            "id": self.public_id,
            "created_at": int(self.created.timestamp()),
            "level": level,
            "message": message,
            "type": "message",
            "data": {
                "from_status": self.from_status or None,
                "to_status": self.to_status,
                "provider_status": self.provider_status or None,
                "source": self.source,
            },
        }


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
