"""Django admin for uploads (OpenAI's Uploads API): read-only, with parts inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from ..models import Upload, UploadPart
from .ledger import LedgerAdmin, ViewOnly


class UploadPartInline(ViewOnly, admin.TabularInline):
    """The parts received so far, in arrival order."""

    model = UploadPart
    extra = 0
    fields = ("public_id", "remote_id", "bytes", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Upload)
class UploadAdmin(LedgerAdmin):
    """Uploads in progress and ended: parts, bytes so far, status, provider, owner."""

    list_display = (
        "public_id",
        "provider",
        "filename",
        "purpose",
        "bytes",
        "bytes_received",
        "part_count",
        "status",
        "owner",
        "file",
        "storage_freed",
        "created",
    )
    list_filter = ("status", "provider", "purpose", "storage_freed", "owner")
    search_fields = ("public_id", "remote_id", "filename", "file__public_id")
    date_hierarchy = "created"
    list_select_related = ("owner", "file")
    inlines = (UploadPartInline,)
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "owner")}),
        (
            "Upload",
            {
                "fields": (
                    "filename",
                    "purpose",
                    "mime_type",
                    "bytes",
                    "bytes_received",
                    "status",
                    "created_at",
                    "expires_at",
                    "expires_after",
                    "md5",
                    "file",
                )
            },
        ),
        (
            "Ledger",
            {"fields": ("remote_open", "storage_freed", "error", "created", "updated", "payload")},
        ),
    )
    readonly_fields = ("payload",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(part_total=Count("parts"))

    @admin.display(description="parts", ordering="part_total")
    def part_count(self, row: Any) -> int:
        return row.part_total
