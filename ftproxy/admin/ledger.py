"""Django admin for the read-only ledger: files, job events, audit entries.

``LedgerAdmin`` is the view-only base of every ledger admin, the job admin
in ``jobs`` included.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from ..models import AuditEntry, File, JobEvent


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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LedgerAdmin(ViewOnly, admin.ModelAdmin):
    """View-only: no add, no change, no delete. Change pages render as
    read-only "view" pages; actions that call services are gated by
    ``has_operate_permission`` (the model's change permission)."""

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
                    "copied_from",
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
