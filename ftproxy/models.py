"""The ledger: every key, file, job, status change and API call."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.validators import MinValueValidator, URLValidator
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
    budget_usd = models.DecimalField(
        "budget (USD)",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Most this key may spend on training; empty: no budget.",
    )
    max_active_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most jobs not yet final at once; empty: no limit."
    )
    webhook_url = models.URLField(
        max_length=2000,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where status changes of this key's jobs are sent.",
    )
    #: Signs outgoing webhooks; shown once when made, never again.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def create_key(cls, name: str, **fields: Any) -> tuple[ApiKey, str]:
        """Create a key; return the row and the raw key (shown once, never stored).
        ``fields`` sets other columns (limits, webhook URL)."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            name=name, prefix=raw[:KEY_PREFIX_LENGTH], hashed_key=hash_key(raw), **fields
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
    #: False: the create failed before anything was sent upstream (a copy
    #: or the ledger failed first). With ``ledger_state`` "failed" (nothing
    #: upstream either way) the row is one its client never got an id for:
    #: kept for the audit trail, left out of lists, spend and failure counts.
    reached_provider = models.BooleanField(
        default=True, help_text="Whether the create was sent to the provider at all."
    )
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
    examples = models.PositiveIntegerField(
        null=True, blank=True, help_text="Training examples counted at upload (fine-tune files)."
    )
    max_example_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Estimated tokens of the longest example."
    )
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    copied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="copies",
        help_text="The file this one is a copy of, made to train on this entry.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "remote_id"], name="ftproxy_file_remote"),
            # One live copy per original and entry (a failed or deleted one
            # does not count, so the copy can be made again).
            models.UniqueConstraint(
                fields=["copied_from", "provider"],
                condition=models.Q(copied_from__isnull=False, deleted=False)
                & ~models.Q(ledger_state="failed"),
                name="ftproxy_file_one_copy",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "ledger_state", "deleted", "created_at", "id"]),
            models.Index(fields=["ledger_state", "deleted", "created_at", "id"]),
        ]

    def __str__(self) -> str:
        return self.public_id


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
    training_type = models.CharField(
        max_length=40, blank=True, help_text="Azure training tier asked for (trainingType)."
    )
    upstream_fields = models.JSONField(
        default=dict,
        blank=True,
        help_text="Fields of the provider's job answer the gateway does not shape; passed on.",
    )
    estimated_cost_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    sync_error = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    requested = models.JSONField(
        null=True,
        blank=True,
        help_text="hyperparameters, method and metadata as the create request gave them "
        "(the mirrored fields hold what the provider made of them).",
    )
    retrained_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retrains",
        help_text="The job this one re-creates on another entry.",
    )

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


class JobEvent(models.Model):
    """One observed status change of a job, or (with ``from_status`` equal to
    ``to_status``) a notice about it, such as what the provider found in its
    dataset; a notice carries its own ``level`` and ``data``."""

    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=40, blank=True)
    to_status = models.CharField(max_length=40)
    provider_status = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=20)
    message = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, blank=True, help_text="Empty: from the status.")
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["job", "id"])]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status or '∅'} → {self.to_status}"

    @property
    def public_id(self) -> str:
        return f"ftevent-{self.pk}"


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


class Upload(models.Model):
    """A multi-part upload (OpenAI's Uploads API): parts arrive one by one
    and ``complete`` turns them into an ordinary ledger ``File``.

    ``remote_id`` is the upstream Upload's id when the provider entry has an
    Uploads API of its own (OpenAI); otherwise the gateway assembles the
    parts on disk and ``remote_id`` stays empty.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        #: A complete call is running (shown to clients as "pending").
        COMPLETING = "completing", "completing"
        COMPLETED = "completed", "completed"
        CANCELLED = "cancelled", "cancelled"
        EXPIRED = "expired", "expired"

    public_id = models.CharField(max_length=200, unique=True)
    provider = models.CharField(max_length=100, help_text="Name of the configured entry.")
    provider_kind = models.CharField(max_length=40)
    remote_id = models.CharField(max_length=500, blank=True)
    owner = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for uploads created with the master key.",
    )
    filename = models.CharField(max_length=500)
    purpose = models.CharField(max_length=40)
    mime_type = models.CharField(max_length=200)
    bytes = models.BigIntegerField(help_text="The declared total.")
    bytes_received = models.BigIntegerField(default=0, help_text="Bytes in parts so far.")
    expires_after = models.JSONField(null=True, blank=True, help_text="For the resulting file.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.BigIntegerField()
    expires_at = models.BigIntegerField()
    file = models.ForeignKey(
        File, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    md5 = models.CharField(max_length=32, blank=True)
    provider_payload = models.JSONField(default=dict, blank=True)
    remote_open = models.BooleanField(
        default=False, help_text="An upstream upload is still open and must be cancelled."
    )
    storage_freed = models.BooleanField(default=False, help_text="Local parts are deleted.")
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["storage_freed", "status"]),
        ]

    def __str__(self) -> str:
        return self.public_id


class UploadPart(models.Model):
    """One part of an ``Upload``, kept on disk until the upload ends."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="parts")
    public_id = models.CharField(max_length=200, unique=True)
    remote_id = models.CharField(max_length=500, blank=True)
    bytes = models.BigIntegerField()
    created_at = models.BigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id


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
