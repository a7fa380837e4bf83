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
from ..services.accounts.webhooks import resend
from .display import key_link, related_display, time_display, truncated_display
from .ledger import LedgerAdmin, ViewOnly, json_display


class WebhookDeliveryInline(ViewOnly, admin.TabularInline):
    """An event's attempts, newest first."""

    model = WebhookDelivery
    fields = ("attempted_local", "url", "status_code", "succeeded", "duration_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    attempted_local = time_display("attempted_at", "attempted at")


@admin.register(WebhookEvent)
class WebhookEventAdmin(LedgerAdmin):
    """Outgoing webhook events and their deliveries; resend as an action."""

    list_display = (
        "event_short",
        "type_column",
        "key_column",
        "job_column",
        "state_column",
        "tries",
        "next_attempt_column",
        "created_column",
    )
    list_filter = ("state", "event_type", "key")
    search_fields = ("event_id", "job__public_id", "key__name", "key__prefix")
    date_hierarchy = "created"
    list_select_related = ("key", "job")
    fields = (
        "event_id",
        "event_type",
        "key_page",
        "job_link",
        "state",
        "attempts",
        "next_attempt_local",
        "give_up_local",
        "delivered_local",
        "last_status_code",
        "last_error",
        "created_local",
        "payload_pretty",
    )
    readonly_fields = (
        "payload_pretty",
        "key_page",
        "job_link",
        "next_attempt_local",
        "give_up_local",
        "delivered_local",
        "created_local",
    )
    inlines = (WebhookDeliveryInline,)
    actions = ("resend_selected",)
    payload_pretty = json_display("payload")
    next_attempt_column = time_display("next_attempt_at", "next attempt", column=True)
    next_attempt_local = time_display("next_attempt_at", "next attempt at")
    give_up_local = time_display("give_up_at", "give up at")
    delivered_local = time_display("delivered_at", "delivered at")

    event_short = truncated_display("event_id", 12)

    type_column = truncated_display("event_type", 22)

    @admin.display(description="key", ordering="key__name")
    def key_column(self, row: WebhookEvent) -> str:
        return key_link(row.key)

    @admin.display(description="key")
    def key_page(self, row: WebhookEvent) -> str:
        return key_link(row.key, width=None)

    job_column = related_display("job", "public_id", width=14)
    job_link = related_display("job", "public_id")

    @admin.display(description="state", ordering="state")
    def state_column(self, row: WebhookEvent) -> str:
        return row.state  # the filter explains each

    @admin.display(description="tries", ordering="attempts")
    def tries(self, row: WebhookEvent) -> int:
        return row.attempts

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

    list_display = (
        "attempted_column",
        "event_link",
        "url_short",
        "status_code",
        "succeeded",
        "duration_ms",
    )
    list_filter = ("succeeded", "status_code")
    search_fields = ("event__event_id", "url", "error")
    date_hierarchy = "attempted_at"
    list_select_related = ("event",)
    fields = (
        "event_link",
        "url",
        "attempted_local",
        "status_code",
        "succeeded",
        "duration_ms",
        "error",
    )
    readonly_fields = ("event_link", "attempted_local")
    attempted_column = time_display("attempted_at", "attempted", column=True)
    attempted_local = time_display("attempted_at", "attempted at")

    event_link = related_display("event", "event_id", width=20)

    url_short = truncated_display("url", 40)
