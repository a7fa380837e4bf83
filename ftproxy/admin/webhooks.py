"""Django admin for outgoing webhooks: each event with its delivery state
and every attempt, read-only, and a "resend" action that queues the
selected events again (same ``webhook-id``, a fresh 24-hour retry window).
The key's webhook URL and secret are managed on the key's page (see
``governance``); the secret never appears here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..models import WebhookDelivery, WebhookEvent
from ..services.webhooks import resend
from .ledger import LedgerAdmin, ViewOnly, json_display


class WebhookDeliveryInline(ViewOnly, admin.TabularInline):
    """An event's attempts, newest first."""

    model = WebhookDelivery
    fields = ("attempted_at", "url", "status_code", "succeeded", "duration_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(WebhookEvent)
class WebhookEventAdmin(LedgerAdmin):
    """Outgoing webhook events and their deliveries; resend as an action."""

    list_display = (
        "event_id",
        "event_type",
        "key",
        "job",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created",
    )
    list_filter = ("state", "event_type", "key")
    search_fields = ("event_id", "job__public_id", "key__name", "key__prefix")
    date_hierarchy = "created"
    list_select_related = ("key", "job")
    fields = (
        "event_id",
        "event_type",
        "key",
        "job",
        "state",
        "attempts",
        "next_attempt_at",
        "give_up_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "created",
        "payload_pretty",
    )
    readonly_fields = ("payload_pretty",)
    inlines = (WebhookDeliveryInline,)
    actions = ("resend_selected",)
    payload_pretty = json_display("payload")

    @admin.action(description="Resend selected events", permissions=("operate",))
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = resend(queryset)
        self.message_user(
            request,
            f"Queued {count} event(s) to send again; the next delivery round sends them.",
            messages.SUCCESS,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LedgerAdmin):
    """Every delivery attempt, across events."""

    list_display = ("attempted_at", "event", "url", "status_code", "succeeded", "duration_ms")
    list_filter = ("succeeded", "status_code")
    search_fields = ("event__event_id", "url", "error")
    date_hierarchy = "attempted_at"
    list_select_related = ("event",)
