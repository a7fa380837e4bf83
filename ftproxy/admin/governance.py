"""What the key admin shows and does for budgets, quotas and webhooks:
active jobs, budget refusals, whether a webhook secret is set, setting the
webhook URL (the new secret is shown once) and rotating secrets. Used by
``keys.ApiKeyAdmin``; the deliveries' own admin is in ``webhooks``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import ApiKey, AuditEntry
from ..services.accounts import budgets
from ..services.accounts import webhooks as webhook_service


@admin.display(description="active jobs")
def active_jobs(model_admin: Any, key: ApiKey) -> str:
    count = budgets.active_jobs_of(key)
    limit = "no limit" if key.max_active_jobs is None else f"limit {key.max_active_jobs}"
    return f"{count} ({limit})"


@admin.display(description="budget refusals")
def refusals(model_admin: Any, key: ApiKey) -> int:
    """Job creates refused by the key's budget or quota (from the audit trail:
    the gateway's own 429s, with no upstream answer)."""
    return AuditEntry.objects.filter(
        key=key,
        action="fine_tuning.jobs.create",
        status_code=429,
        upstream_status__isnull=True,
    ).count()


@admin.display(description="webhook secret")
def webhook_secret_status(model_admin: Any, key: ApiKey) -> str:
    # Never the secret itself: it was shown once, when it was made.
    return "set (shown once when made)" if key.webhook_secret else "—"


def show_secret_once(model_admin: Any, request: HttpRequest, key: ApiKey, secret: str) -> None:
    model_admin.message_user(
        request,
        format_html(
            "New webhook signing secret for {}: <code>{}</code> — copy it now. It is shown "
            "only this once; verify deliveries with it.",
            key.name,
            secret,
        ),
        messages.SUCCESS,
    )


def save_key_webhook(model_admin: Any, request: HttpRequest, key: ApiKey, form: Any) -> None:
    """On the key's change page: a new webhook URL gets a secret if the key
    has none (shown once); a removed URL drops the secret."""
    if "webhook_url" not in form.changed_data:
        return
    secret = webhook_service.set_webhook_url(key, key.webhook_url)
    if secret:
        show_secret_once(model_admin, request, key, secret)


@admin.action(description="Rotate the webhook secret of selected keys", permissions=("change",))
def rotate_webhook_secrets(model_admin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    skipped = 0
    for key in queryset.order_by("pk"):
        if not key.webhook_url:
            skipped += 1
            continue
        show_secret_once(model_admin, request, key, webhook_service.rotate_secret(key))
    if skipped:
        model_admin.message_user(
            request, f"{skipped} key(s) have no webhook URL: no secret made.", messages.WARNING
        )
