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
from django.utils.html import format_html, format_html_join

from ..models import ApiKey, AuditEntry, File, FineTuningJob
from ..services.accounts import apikeys, budgets
from . import governance
from .confirm import Touched, confirmation_page, confirmed
from .display import changelist_url, link, local_time_text, time_display
from .query import StorableQuery


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


class ActiveFilter(admin.SimpleListFilter):
    """Active (not revoked) or revoked keys."""

    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No (revoked)"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked=self.value() == "no")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(StorableQuery, admin.ModelAdmin):
    """Keys: add by name (the raw key is shown once), rename, revoke.

    The hash is never displayed. Keys are not deletable: ledger rows point at
    them (``PROTECT``), and revocation is the way to retire one. A key's page
    links to its jobs, files and audit entries.
    """

    list_display = (
        "name",
        "prefix",
        "active",
        "created_column",
        "last_used_column",
        "spend",
        "budget",
        "remaining",
    )
    list_display_links = ("name",)
    list_filter = (ActiveFilter,)
    search_fields = ("name", "prefix")
    date_hierarchy = "created"
    actions = ("revoke_selected", "rotate_webhook_secrets")
    change_readonly_fields = (
        "prefix",
        "active",
        "created_local",
        "last_used_local",
        "revoked_at_local",
        "spend",
        "remaining",
        "active_jobs",
        "refusals",
        "webhook_secret_status",
        "ledger_links",
        "change_trail",
    )
    #: Editable on the change page (the add form asks only for a name).
    limit_fields = (
        "budget_usd",
        "max_active_jobs",
        "webhook_url",
        "expires_at",
        "allowed_providers",
        "allowed_models",
    )

    formfield_overrides = {URLField: {"assume_scheme": "https"}}
    form = governance.KeyForm

    class Media:
        css = {"all": ["ftproxy/admin.css"]}

    created_local = time_display("created")
    last_used_local = time_display("last_used", "last used")
    created_column = time_display("created", column=True)
    last_used_column = time_display("last_used", "last used", column=True)
    revoked_at_local = time_display("revoked_at", "revoked at")

    @admin.display(description="active", boolean=True, ordering="revoked")
    def active(self, key: ApiKey) -> bool:
        return not key.revoked

    @admin.display(description="in the ledger")
    def ledger_links(self, key: ApiKey) -> str:
        """Links to the key's jobs, files and audit entries, with counts."""
        targets = (
            (FineTuningJob, "jobs", FineTuningJob.objects.filter(owner=key), "owner__id__exact"),
            (File, "files", File.objects.filter(owner=key), "owner__id__exact"),
            (AuditEntry, "audit entries", AuditEntry.objects.filter(key=key), "key__id__exact"),
        )
        return format_html_join(
            " · ",
            '<a href="{}">{} {}</a>',
            (
                (changelist_url(model, **{param: key.pk}), rows.count(), label)
                for model, label, rows, param in targets
            ),
        )

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
        (``services.accounts.budgets``; from the annotation)."""
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
    change_trail = governance.change_trail
    rotate_webhook_secrets = governance.rotate_webhook_secrets

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        actor = apikeys.admin_actor(request.user.get_username())
        if change:
            # Through the keys service, so the change trail says who made it.
            values = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in apikeys.SETTINGS
            }
            made = apikeys.update_key(actor, ApiKey.objects.get(pk=obj.pk), values)
            if made.webhook_secret:
                governance.show_secret_once(self, request, made.key, made.webhook_secret)
            obj.refresh_from_db()
            return
        made = apikeys.create_key(actor, {"name": obj.name})
        row, raw = made.key, made.secret
        # The admin goes on with ``obj`` (log entry, redirect): make it the saved row.
        obj.pk = row.pk
        obj.refresh_from_db()
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

    @admin.action(description="Revoke selected keys…", permissions=("change",))
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]):
        """Asks first, on a page listing each key with what it owns."""
        if not confirmed(request):
            return confirmation_page(
                self,
                request,
                queryset,
                action="revoke_selected",
                title="Revoke API keys",
                question="Are you sure you want to revoke the selected API keys?",
                consequences=[
                    "Every request made with them will be refused with a 401: at once by this "
                    "server process, within 5 seconds by every other (each caches keys it "
                    "has looked up for that long).",
                    "Revocation is final: a revoked key cannot be made active again.",
                    "Their files, jobs and audit entries stay in the ledger; running jobs "
                    "go on at their provider.",
                ],
                rows=[self._touched(key) for key in queryset.order_by("name")],
                button="Yes, revoke",
            )
        revoked = 0
        actor = apikeys.admin_actor(request.user.get_username())
        for key in queryset.filter(revoked=False):
            apikeys.revoke_key(actor, key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
        return None

    def _touched(self, key: ApiKey) -> Touched:
        jobs = FineTuningJob.objects.filter(owner=key)
        return Touched(
            link=link(key, f"{key.name} ({key.prefix}…)"),
            facts=[
                f"{jobs.count()} job(s), {jobs.filter(terminal=False).count()} still active",
                f"{File.objects.filter(owner=key, deleted=False).count()} file(s)",
                f"last used {local_time_text(key.last_used)}" if key.last_used else "never used",
            ],
            skipped="already revoked" if key.revoked else "",
        )
