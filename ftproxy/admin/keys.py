"""Django admin: browse the ledger read-only; manage keys; act on jobs.

Ledger rows (files, jobs, events, audit entries) are never added, edited or
deleted here: they are what the gateway observed. Operators act on jobs
through the same services the API uses, so an admin action leaves the same
trail (``JobEvent`` rows, signals) as an API call. Keys are created here with
the raw key shown once, in a message, and revoked rather than deleted.

This module holds the key admin; the read-only ledger admins are in
``ledger`` and the job admin, with its actions and sync button, in ``jobs``.
The package's ``__init__`` imports all three, which registers them when
Django's admin autodiscovery loads ``ftproxy.admin``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet, URLField
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import ApiKey
from ..services import budgets
from . import governance


def format_usd(value: Decimal | None) -> str:
    """Dollars with cents, keeping sub-cent precision when there is any."""
    if value is None:
        return "—"
    text = f"{value:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys: add by name (the raw key is shown once), rename, revoke.

    The hash is never displayed. Keys are not deletable: ledger rows point at
    them (``PROTECT``), and revocation is the way to retire one.
    """

    list_display = (
        "name",
        "prefix",
        "created",
        "last_used",
        "revoked",
        "spend",
        "budget",
        "remaining",
    )
    list_filter = ("revoked",)
    search_fields = ("name", "prefix")
    date_hierarchy = "created"
    actions = ("revoke_selected", "rotate_webhook_secrets")
    change_readonly_fields = (
        "prefix",
        "created",
        "last_used",
        "revoked",
        "revoked_at",
        "spend",
        "remaining",
        "active_jobs",
        "refusals",
        "webhook_secret_status",
    )
    #: Editable on the change page (the add form asks only for a name).
    limit_fields = ("budget_usd", "max_active_jobs", "webhook_url")
    formfield_overrides = {URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        # One correlated subquery in the page's single query, not one per row.
        return budgets.with_spend(super().get_queryset(request))

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name",)
        return ("name", *self.limit_fields, *self.change_readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        return () if obj is None else self.change_readonly_fields

    @admin.display(description="spend (USD)", ordering="spend")
    def spend(self, key: ApiKey) -> str:
        """Costs of the key's final jobs plus estimates of the others
        (``services.budgets``; from the annotation)."""
        return format_usd(getattr(key, "spend", None))

    @admin.display(description="budget (USD)", ordering="budget_usd")
    def budget(self, key: ApiKey) -> str:
        return "no budget" if key.budget_usd is None else format_usd(key.budget_usd)

    @admin.display(description="remaining (USD)")
    def remaining(self, key: ApiKey) -> str:
        if key.budget_usd is None:
            return "—"
        return format_usd(key.budget_usd - getattr(key, "spend", 0))

    active_jobs = governance.active_jobs
    refusals = governance.refusals
    webhook_secret_status = governance.webhook_secret_status
    rotate_webhook_secrets = governance.rotate_webhook_secrets

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            governance.save_key_webhook(self, request, obj, form)
            super().save_model(request, obj, form, change)
            return
        row, raw = ApiKey.create_key(obj.name)
        # The admin goes on with ``obj`` (log entry, redirect): make it the saved row.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(row, field.attname))
        obj._state.adding = False
        obj._state.db = row._state.db
        self.message_user(
            request,
            format_html(
                "New API key for {}: <code>{}</code> — copy it now. It is shown only "
                "this once: the gateway keeps only its prefix and a hash.",
                row.name,
                raw,
            ),
            messages.SUCCESS,
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    @admin.action(description="Revoke selected keys", permissions=("change",))
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked=False):
            key.revoke()
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
