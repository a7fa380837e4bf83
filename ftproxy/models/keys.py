"""API keys: a prefix and a hash, the key itself shown once."""

from __future__ import annotations

import datetime
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
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this time the key is refused; empty: never."
    )
    allowed_providers = models.JSONField(
        null=True,
        blank=True,
        help_text="Entry names the key may create files, uploads and jobs on; empty: any.",
    )
    allowed_models = models.JSONField(
        null=True,
        blank=True,
        help_text="Base models the key may train (a name, or a prefix ending in '*'); empty: any.",
    )
    #: After a rotation: the SHA-256 of the key it replaced, valid until
    #: ``previous_key_expires_at`` (the grace period), then refused.
    previous_hashed_key = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

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
        """Revocation is final (for the key and a rotated-out one alike)."""
        if not self.revoked:
            self.revoked = True
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked", "revoked_at"])

    def rotate(self, grace: datetime.timedelta) -> str:
        """Give the key a new secret; the current one stays valid for
        ``grace`` (replacing any earlier one still in its grace period).
        Returns the new raw key (shown once, never stored)."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        # Kept past its grace period too, so that it is refused as rotated.
        self.previous_hashed_key = self.hashed_key
        self.previous_key_expires_at = now + grace
        self.hashed_key = hash_key(raw)
        self.prefix = raw[:KEY_PREFIX_LENGTH]
        self.rotated_at = now
        self.save(
            update_fields=[
                "hashed_key",
                "prefix",
                "previous_hashed_key",
                "previous_key_expires_at",
                "rotated_at",
            ]
        )
        return raw


class KeyChange(models.Model):
    """One change to a key (created, updated, rotated, revoked): who made it,
    through what, and which fields changed from what to what. Secrets are
    never written here."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="changes")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40)
    actor = models.CharField(
        max_length=200,
        help_text="Who made the change: 'master key (API)', 'admin user NAME', 'manage.py'.",
    )
    request_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(
        default=dict, blank=True, help_text="Field: [before, after]; no secrets."
    )

    class Meta:
        verbose_name = "key change"
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
