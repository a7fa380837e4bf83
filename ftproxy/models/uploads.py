"""Uploads (OpenAI's Uploads API) and their parts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .keys import ApiKey
from .ledger import File


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
