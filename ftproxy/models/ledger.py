"""The ledger's rows of what lives upstream: files, jobs and their status
history, and the state of the call that created each."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from .keys import ApiKey


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
    model_deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the fine-tuned model was deleted through the gateway "
        "(DELETE /v1/models/{model}).",
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
