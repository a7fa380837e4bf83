"""Django admin for uploads (OpenAI's Uploads API): read-only, with parts inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from ..models import Upload, UploadPart
from .display import epoch_display, related_display, truncated_display
from .ledger import LedgerAdmin, ViewOnly


class UploadPartInline(ViewOnly, admin.TabularInline):
    """The parts received so far, in arrival order."""

    model = UploadPart
    extra = 0
    fields = ("public_id", "remote_id", "bytes", "created_at_local")
    readonly_fields = fields
    can_delete = False
    created_at_local = epoch_display("created_at", "created at")


@admin.register(Upload)
class UploadAdmin(LedgerAdmin):
    """Uploads in progress and ended: parts, bytes so far, status, provider, owner."""

    list_display = (
        "upload_id",
        "filename_short",
        "bytes",
        "received",
        "part_count",
        "status",
        "owner_link",
        "file_column",
        "freed",
        "created_column",
    )
    list_filter = ("status", "provider", "purpose", "storage_freed", "owner")
    search_fields = ("public_id", "remote_id", "filename", "file__public_id")
    date_hierarchy = "created"
    list_select_related = ("owner", "file")
    inlines = (UploadPartInline,)
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "key")}),
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
                    "created_at_local",
                    "expires_at_local",
                    "expires_after",
                    "md5",
                    "file_link",
                )
            },
        ),
        (
            "Ledger",
            {
                "fields": (
                    "remote_open",
                    "storage_freed",
                    "error",
                    "created_local",
                    "updated_local",
                    "payload",
                )
            },
        ),
    )
    readonly_fields = (
        "payload",
        "key",
        "created_at_local",
        "expires_at_local",
        "file_link",
        "created_local",
        "updated_local",
    )
    created_at_local = epoch_display("created_at", "created at")
    expires_at_local = epoch_display("expires_at", "expires at")

    upload_id = truncated_display("public_id", 16, "id")

    filename_short = truncated_display("filename", 20)

    file_column = related_display("file", "public_id", width=16)
    file_link = related_display("file", "public_id")

    @admin.display(description="received", ordering="bytes_received")
    def received(self, row: Upload) -> int:
        return row.bytes_received

    @admin.display(description="freed", boolean=True, ordering="storage_freed")
    def freed(self, row: Upload) -> bool:
        return row.storage_freed

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(part_total=Count("parts"))

    @admin.display(description="parts", ordering="part_total")
    def part_count(self, row: Any) -> int:
        return row.part_total
