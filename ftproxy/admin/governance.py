"""What the key admin shows and does for budgets, quotas and webhooks:
active jobs, budget refusals, whether a webhook secret is set, setting the
webhook URL (the new secret is shown once) and rotating secrets. Used by
``keys.ApiKeyAdmin``; the deliveries' own admin is in ``webhooks``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from ..errors import GatewayError
from ..models import ApiKey, AuditEntry, KeyChange
from ..services.accounts import apikeys, budgets
from .display import local_time_text


class AllowlistField(forms.JSONField):
    """A JSON list of names; no list (any name allowed) is an empty box, as
    the field's help says, not the word ``null``."""

    def prepare_value(self, value: Any) -> Any:
        return "" if value is None else super().prepare_value(value)


class KeyForm(forms.ModelForm):
    """The key's form: allowlists are lists of names, and the providers
    named must be configured entries (as the keys API checks)."""

    class Meta:
        model = ApiKey
        fields = ("name",)  # the admin's get_fields() decides which fields it shows
        field_classes = {"allowed_providers": AllowlistField, "allowed_models": AllowlistField}

    def names(self, field: str) -> list[str] | None:
        value = self.cleaned_data.get(field)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            raise forms.ValidationError(
                'Give a JSON list of names, e.g. ["openai"], or leave it empty.'
            )
        return value

    def clean_allowed_providers(self) -> list[str] | None:
        value = self.names("allowed_providers")
        try:
            apikeys.check_settings({"allowed_providers": value})
        except GatewayError as exc:
            raise forms.ValidationError(exc.message) from None
        return value

    def clean_allowed_models(self) -> list[str] | None:
        return self.names("allowed_models")


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


@admin.action(description="Rotate the webhook secret of selected keys", permissions=("change",))
def rotate_webhook_secrets(model_admin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    skipped = 0
    for key in queryset.order_by("pk"):
        if not key.webhook_url:
            skipped += 1
            continue
        actor = apikeys.admin_actor(request.user.get_username())
        show_secret_once(model_admin, request, key, apikeys.rotate_webhook_secret(actor, key))
    if skipped:
        model_admin.message_user(
            request, f"{skipped} key(s) have no webhook URL: no secret made.", messages.WARNING
        )


#: How many of a key's latest changes its page lists.
SHOWN_CHANGES = 20


@admin.display(description="changes (who made them)")
def change_trail(model_admin: Any, key: ApiKey) -> str:
    """The key's latest changes, newest first (the trail holds no secrets)."""
    rows = KeyChange.objects.filter(key=key).order_by("-created", "-id")[:SHOWN_CHANGES]
    if not rows:
        return "—"
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            "<li>{} · {} by {}{}</li>",
            (
                (
                    local_time_text(row.created),
                    row.action,
                    row.actor,
                    f": {', '.join(sorted(row.changes))}" if row.changes else "",
                )
                for row in rows
            ),
        ),
    )
