"""Django admin: browse the ledger read-only; manage keys; act on jobs.

Ledger rows (files, jobs, events, audit entries) are never added, edited or
deleted here: they are what the gateway observed. Operators act on jobs
through the same services the API uses, so an admin action leaves the same
trail (``JobEvent`` rows, signals) as an API call. Keys are created here with
the raw key shown once, in a message, and revoked rather than deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from .errors import GatewayError
from .models import ApiKey, AuditEntry, File, FineTuningJob, JobEvent
from .providers.base import ProviderError
from .services.context import MASTER, CallContext
from .services.jobs import job_action, retrieve_job

#: Sync failures listed one by one in messages; the rest are counted.
MAX_LISTED_FAILURES = 5


def format_usd(value: Decimal | None) -> str:
    """Dollars with cents, keeping sub-cent precision when there is any."""
    if value is None:
        return "—"
    text = f"{value:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def pretty_json(value: Any) -> str:
    """A JSON value as an indented ``<pre>`` block (escaped)."""
    if value in (None, {}, []):
        return "—"
    return format_html(
        "<pre style='white-space: pre-wrap; margin: 0'>{}</pre>",
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
    )


def json_display(field: str):
    """A read-only admin display of a JSON field, pretty-printed."""

    @admin.display(description=field.replace("_", " "))
    def display(self, row: Any) -> str:
        return pretty_json(getattr(row, field))

    return display


# --------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys: add by name (the raw key is shown once), rename, revoke.

    The hash is never displayed. Keys are not deletable: ledger rows point at
    them (``PROTECT``), and revocation is the way to retire one.
    """

    list_display = ("name", "prefix", "created", "last_used", "revoked", "spend")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix")
    date_hierarchy = "created"
    actions = ("revoke_selected",)
    change_readonly_fields = ("prefix", "created", "last_used", "revoked", "revoked_at", "spend")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        # One correlated subquery in the page's single query, not one per row.
        spend = (
            FineTuningJob.objects.filter(owner=OuterRef("pk"))
            .values("owner")
            .annotate(total=Sum("cost_usd"))
            .values("total")
        )
        money = DecimalField(max_digits=20, decimal_places=6)
        return (
            super()
            .get_queryset(request)
            .annotate(spend=Coalesce(Subquery(spend, output_field=money), Value(0, money)))
        )

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name",)
        return ("name", *self.change_readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        return () if obj is None else self.change_readonly_fields

    @admin.display(description="spend (USD)", ordering="spend")
    def spend(self, key: ApiKey) -> str:
        """Sum of ``cost_usd`` over the key's jobs (from the annotation)."""
        return format_usd(getattr(key, "spend", None))

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
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


# --------------------------------------------------------------------------
# The read-only ledger
# --------------------------------------------------------------------------


class LedgerAdmin(admin.ModelAdmin):
    """View-only: no add, no change, no delete. Change pages render as
    read-only "view" pages; actions that call services are gated by
    ``has_operate_permission`` (the model's change permission)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May act on rows through the services (refresh, cancel, sync)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description="provider payload")
    def payload(self, row: Any) -> str:
        """The provider's last answer: no secrets in it, so shown as is."""
        return pretty_json(row.provider_payload)


@admin.register(File)
class FileAdmin(LedgerAdmin):
    """Files, as uploaded through the gateway."""

    list_display = (
        "public_id",
        "provider",
        "filename",
        "purpose",
        "bytes",
        "status",
        "owner",
        "ledger_state",
        "deleted",
        "created",
    )
    list_filter = ("provider", "status", "purpose", "ledger_state", "deleted", "owner")
    search_fields = ("public_id", "remote_id", "filename")
    date_hierarchy = "created"
    list_select_related = ("owner",)
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "owner")}),
        (
            "File",
            {
                "fields": (
                    "filename",
                    "purpose",
                    "bytes",
                    "sha256",
                    "status",
                    "status_details",
                    "created_at",
                    "expires_at",
                    "estimated_tokens",
                    "deleted",
                    "deleted_at",
                )
            },
        ),
        (
            "Ledger",
            {
                "fields": (
                    "raw_status",
                    "ledger_state",
                    "ledger_error",
                    "created",
                    "updated",
                    "synced_at",
                    "payload",
                )
            },
        ),
    )
    readonly_fields = ("payload",)


class JobEventInline(admin.TabularInline):
    """A job's status history, newest first, read-only."""

    model = JobEvent
    fields = ("created", "from_status", "to_status", "provider_status", "source", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_on_jobs(
    admin_obj: FineTuningJobAdmin,
    request: HttpRequest,
    queryset: QuerySet[FineTuningJob],
    verb: str,
    call: Callable[[CallContext, str], FineTuningJob],
) -> None:
    """Call a job service for each selected job with the master's rights;
    report successes together and each failure on its own, never raising."""
    done: list[str] = []
    for job in queryset.order_by("pk"):
        try:
            updated = call(CallContext(caller=MASTER), job.public_id)
        except (ProviderError, GatewayError) as exc:
            admin_obj.message_user(
                request, f"Could not {verb} {job.public_id}: {exc.message}", messages.ERROR
            )
            continue
        done.append(f"{updated.public_id} ({updated.status})")
    if done:
        past = {"refresh": "Refreshed", "cancel": "Cancelled"}[verb]
        admin_obj.message_user(
            request, f"{past} {len(done)} job(s): {', '.join(done)}.", messages.SUCCESS
        )


@admin.register(FineTuningJob)
class FineTuningJobAdmin(LedgerAdmin):
    """Jobs, with their event history; refresh, cancel and sync call the
    job services."""

    list_display = (
        "public_id",
        "provider",
        "model",
        "status",
        "raw_status",
        "owner",
        "cost_usd",
        "estimated_cost_usd",
        "created",
    )
    list_filter = ("provider", "status", "ledger_state", "terminal", "owner")
    search_fields = ("public_id", "remote_id", "model", "fine_tuned_model")
    date_hierarchy = "created"
    list_select_related = ("owner",)
    actions = ("refresh_selected", "cancel_selected")
    inlines = (JobEventInline,)
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "owner")}),
        (
            "Job",
            {
                "fields": (
                    "model",
                    "status",
                    "raw_status",
                    "terminal",
                    "fine_tuned_model",
                    "training_file",
                    "validation_file",
                    "created_at",
                    "finished_at",
                    "estimated_finish",
                    "trained_tokens",
                    "suffix",
                    "seed",
                    "organization_id",
                )
            },
        ),
        ("Cost", {"fields": ("estimated_cost_usd", "cost_usd")}),
        (
            "Details",
            {
                "fields": (
                    "hyperparameters_pretty",
                    "method_pretty",
                    "error_pretty",
                    "result_files_pretty",
                    "integrations_pretty",
                    "metadata_pretty",
                )
            },
        ),
        (
            "Ledger",
            {
                "fields": (
                    "ledger_state",
                    "ledger_error",
                    "sync_error",
                    "created",
                    "updated",
                    "synced_at",
                    "lease_owner",
                    "lease_expires_at",
                    "payload",
                )
            },
        ),
    )
    readonly_fields = (
        "payload",
        "hyperparameters_pretty",
        "method_pretty",
        "error_pretty",
        "result_files_pretty",
        "integrations_pretty",
        "metadata_pretty",
    )
    change_list_template = "admin/ftproxy/finetuningjob/change_list.html"

    hyperparameters_pretty = json_display("hyperparameters")
    method_pretty = json_display("method")
    error_pretty = json_display("error")
    result_files_pretty = json_display("result_files")
    integrations_pretty = json_display("integrations")
    metadata_pretty = json_display("metadata")

    @admin.action(description="Refresh from provider", permissions=("operate",))
    def refresh_selected(self, request: HttpRequest, queryset: QuerySet[FineTuningJob]) -> None:
        _run_on_jobs(self, request, queryset, "refresh", retrieve_job)

    @admin.action(description="Cancel selected jobs", permissions=("operate",))
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[FineTuningJob]) -> None:
        _run_on_jobs(
            self,
            request,
            queryset,
            "cancel",
            lambda ctx, job_id: job_action(ctx, "cancel", job_id),
        )

    def get_urls(self):
        opts = self.opts
        custom = [
            path(
                "sync-active/",
                self.admin_site.admin_view(self.sync_active_view),
                name=f"{opts.app_label}_{opts.model_name}_sync_active",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "can_sync": self.has_operate_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def sync_active_view(self, request: HttpRequest) -> HttpResponse:
        """POST: run one sync pass over every active job, as
        ``manage.py ftproxy_sync_jobs`` does, and report its counts."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        # Imported here: the sync service is optional to the rest of the admin.
        from .services.sync import sync_jobs

        try:
            result = sync_jobs()
        except (ProviderError, GatewayError) as exc:
            self.message_user(request, f"Sync failed: {exc.message}", messages.ERROR)
        else:
            summary = (
                f"Synced active jobs: {result.checked} checked, {result.changed} changed, "
                f"{result.failed} failed."
            )
            level = messages.WARNING if result.failed else messages.SUCCESS
            self.message_user(request, summary, level)
            for public_id, error in result.failures[:MAX_LISTED_FAILURES]:
                self.message_user(request, f"Could not sync {public_id}: {error}", messages.ERROR)
            if len(result.failures) > MAX_LISTED_FAILURES:
                self.message_user(
                    request,
                    f"… and {len(result.failures) - MAX_LISTED_FAILURES} more; each failed "
                    "job's sync error is on its page.",
                    messages.ERROR,
                )
        opts = self.opts
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))


@admin.register(JobEvent)
class JobEventAdmin(LedgerAdmin):
    """Every observed status change, across jobs."""

    list_display = ("created", "job", "from_status", "to_status", "provider_status", "source")
    list_filter = ("source", "to_status", "job__provider")
    search_fields = ("job__public_id", "job__remote_id", "provider_status", "message")
    date_hierarchy = "created"
    list_select_related = ("job",)


@admin.register(AuditEntry)
class AuditEntryAdmin(LedgerAdmin):
    """One row per API call."""

    list_display = (
        "created",
        "request_id",
        "key_prefix",
        "method",
        "path",
        "action",
        "object_id",
        "provider",
        "status_code",
        "upstream_status",
        "duration_ms",
    )
    list_filter = ("status_code", "action", "provider", "method")
    search_fields = ("request_id", "object_id", "path", "key_prefix")
    date_hierarchy = "created"
    list_select_related = ("key",)
