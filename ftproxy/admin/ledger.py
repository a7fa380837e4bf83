"""Django admin for the read-only ledger: files, job events, audit entries.

``LedgerAdmin`` is the view-only base of every ledger admin, the job admin
in ``jobs`` included.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import AuditEntry, File, FineTuningJob, JobEvent, LedgerState
from .display import (
    EMPTY,
    epoch_display,
    key_link,
    link,
    links,
    time_display,
    truncated,
    truncated_display,
)
from .query import StorableQuery


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
# The read-only ledger
# --------------------------------------------------------------------------


class ViewOnly:
    """No add, no change, no delete: ledger rows are never edited by hand."""

    empty_value_display = EMPTY  # as the console's own columns show a missing value

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def ledger_status(row: Any) -> str:
    """A row's status, or where its creation stands when it did not succeed
    upstream (a failed or in-flight create has no provider status)."""
    if row.ledger_state == "failed":
        return format_html(
            '<span class="ftp-bad" title="{}">failed upstream</span>', row.ledger_error
        )
    if row.ledger_state == "pending":
        return "pending"
    css = f"ftp-status-{row.status}" if row.status in ("failed", "succeeded") else ""
    return format_html('<span class="{}">{}</span>', css, row.status or "—")


class CreatedUpstreamFilter(admin.SimpleListFilter):
    """By default a list leaves out rows whose create failed (nothing
    upstream, and the client never got their id: a refusal such as a 400
    on an unknown file, or a create never sent at all); they are kept for
    the audit trail and listed on demand. A ``ledger_state`` filter the
    admin picked, or a search, shows what it asks for."""

    title = "created upstream"
    parameter_name = "upstream"
    NEVER, ANY = "never", "any"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.NEVER, "never created (client got no id)"), (self.ANY, "all rows")]

    def choices(self, changelist: Any):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "created or in flight",
        }
        for value, title in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        failed = Q(ledger_state=LedgerState.FAILED)
        if self.value() == self.NEVER:
            return queryset.filter(failed)
        if self.value() == self.ANY or {"ledger_state__exact", "q"} & set(request.GET):
            return queryset
        return queryset.exclude(failed)


class LedgerAdmin(StorableQuery, ViewOnly, admin.ModelAdmin):
    """View-only: no add, no change, no delete. Change pages render as
    read-only "view" pages; actions that call services are gated by
    ``has_operate_permission`` (the model's change permission)."""

    class Media:
        css = {"all": ["ftproxy/admin.css"]}

    created_local = time_display("created")
    created_column = time_display("created", column=True)
    updated_local = time_display("updated")
    synced_at_local = time_display("synced_at", "synced at")

    @admin.display(description="key", ordering="owner__name")
    def owner_link(self, row: Any) -> str:
        return key_link(row.owner)

    @admin.display(description="key")
    def key(self, row: Any) -> str:
        return key_link(row.owner, width=None)

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
        "file_id",
        "filename_short",
        "purpose",
        "bytes",
        "state",
        "owner_link",
        "provider",
        "created_column",
    )
    list_filter = (
        CreatedUpstreamFilter,
        "provider",
        "status",
        "purpose",
        "ledger_state",
        "deleted",
        "owner",
    )
    search_fields = ("public_id", "remote_id", "filename", "owner__name")
    date_hierarchy = "created"
    list_select_related = ("owner",)
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "key")}),
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
                    "created_at_local",
                    "expires_at_local",
                    "estimated_tokens",
                    "examples",
                    "max_example_tokens",
                    "deleted",
                    "deleted_at_local",
                    "copied_from",
                )
            },
        ),
        ("Jobs", {"fields": ("used_by", "produced_by")}),
        (
            "Ledger",
            {
                "fields": (
                    "raw_status",
                    "ledger_state",
                    "ledger_error",
                    "created_local",
                    "updated_local",
                    "synced_at_local",
                )
            },
        ),
        ("Provider payload", {"fields": ("payload",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "payload",
        "key",
        "created_at_local",
        "expires_at_local",
        "deleted_at_local",
        "created_local",
        "updated_local",
        "synced_at_local",
        "used_by",
        "produced_by",
    )

    created_at_local = epoch_display("created_at", "created at")
    expires_at_local = epoch_display("expires_at", "expires at")
    deleted_at_local = time_display("deleted_at", "deleted at")

    file_id = truncated_display("public_id", 21, "id")

    @admin.display(description="status", ordering="status")
    def state(self, row: File) -> str:
        return ledger_status(row)

    filename_short = truncated_display("filename", 28)

    @admin.display(description="training or validation file of")
    def used_by(self, row: File) -> str:
        jobs = FineTuningJob.objects.filter(
            Q(training_file=row.public_id) | Q(validation_file=row.public_id)
        ).order_by("-created")[:50]
        return links(list(jobs))

    @admin.display(description="result file of")
    def produced_by(self, row: File) -> str:
        # A text match narrows the rows (JSON containment is not on SQLite), then exact.
        candidates = FineTuningJob.objects.filter(result_files__icontains=row.public_id)
        return links([job for job in candidates if row.public_id in (job.result_files or [])])


@admin.register(JobEvent)
class JobEventAdmin(LedgerAdmin):
    """Every observed status change, across jobs."""

    list_display = (
        "created_column",
        "job_link",
        "from_status",
        "to_status",
        "provider_status",
        "source",
    )
    list_filter = ("source", "to_status", "job__provider")
    search_fields = ("job__public_id", "job__remote_id", "provider_status", "message")
    date_hierarchy = "created"
    list_select_related = ("job",)

    @admin.display(description="job", ordering="job__public_id")
    def job_link(self, event: JobEvent) -> str:
        return link(event.job)


@admin.register(AuditEntry)
class AuditEntryAdmin(LedgerAdmin):
    """One row per API call."""

    list_display = (
        "created_column",
        "key_name",
        "request",
        "action",
        "object_short",
        "status",
        "upstream",
        "ms",
    )
    list_display_links = ("created_column",)
    list_filter = ("status_code", "action", "provider", "method")
    search_fields = ("request_id", "object_id", "path", "key_prefix", "key__name")
    date_hierarchy = "created"
    list_select_related = ("key",)
    fields = (
        "created_local",
        "request_id",
        "key_name",
        "key_prefix",
        "method",
        "path",
        "action",
        "object_link",
        "provider",
        "status_code",
        "upstream_status",
        "duration_ms",
        "upstream_ms",
        "error",
    )
    readonly_fields = ("created_local", "key_name", "object_link")

    @admin.display(description="key", ordering="key__name")
    def key_name(self, row: AuditEntry) -> str:
        if row.key is None:
            return row.key_prefix or "—"  # the master key, or no valid key
        return key_link(row.key)

    @admin.display(description="request", ordering="path")
    def request(self, row: AuditEntry) -> str:
        return truncated(f"{row.method} {row.path}", 30)

    @admin.display(description="status", ordering="status_code")
    def status(self, row: AuditEntry) -> str:
        css = "ftp-bad" if row.status_code >= 400 else ""
        return format_html('<span class="{}">{}</span>', css, row.status_code)

    @admin.display(description="upstream", ordering="upstream_status")
    def upstream(self, row: AuditEntry) -> str:
        return "—" if row.upstream_status is None else str(row.upstream_status)

    @admin.display(description="ms", ordering="duration_ms")
    def ms(self, row: AuditEntry) -> int:
        return row.duration_ms

    object_short = truncated_display("object_id", 18, "object")

    @admin.display(description="object")
    def object_link(self, row: AuditEntry) -> str:
        for model in (FineTuningJob, File):
            found = model.objects.filter(public_id=row.object_id).first() if row.object_id else None
            if found is not None:
                return link(found)
        return row.object_id or "—"
