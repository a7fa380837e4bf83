"""Django admin for fine-tuning jobs: the job list and pages with their
event history, the refresh and cancel actions, and the "sync all active
jobs now" button (its view and URL; the button is in the job change-list
template).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from ..errors import GatewayError
from ..models import FineTuningJob, JobEvent
from ..providers.base import ProviderError
from ..services.context import MASTER, CallContext
from ..services.jobs import job_action, retrieve_job
from .ledger import LedgerAdmin, ViewOnly, json_display
from .retrain import RetrainActions

#: Sync failures listed one by one in messages; the rest are counted.
MAX_LISTED_FAILURES = 5
#: The job's JSON fields, shown pretty-printed (see the ``*_pretty`` displays).
JSON_DISPLAYS = (
    "hyperparameters_pretty",
    "method_pretty",
    "error_pretty",
    "result_files_pretty",
    "integrations_pretty",
    "metadata_pretty",
    "upstream_fields_pretty",
)


class JobEventInline(ViewOnly, admin.TabularInline):
    """A job's status history, newest first, read-only."""

    model = JobEvent
    fields = ("created", "from_status", "to_status", "provider_status", "source", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


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
class FineTuningJobAdmin(RetrainActions, LedgerAdmin):
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
    actions = ("refresh_selected", "cancel_selected", "retrain_selected")
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
                    "training_type",
                    "retrained_from_link",
                    "retrained_as_links",
                )
            },
        ),
        ("Cost", {"fields": ("estimated_cost_usd", "cost_usd")}),
        (
            "Details",
            {"fields": JSON_DISPLAYS},
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
    readonly_fields = ("payload", *JSON_DISPLAYS, "retrained_from_link", "retrained_as_links")
    change_list_template = "admin/ftproxy/finetuningjob/change_list.html"

    hyperparameters_pretty = json_display("hyperparameters")
    method_pretty = json_display("method")
    error_pretty = json_display("error")
    result_files_pretty = json_display("result_files")
    integrations_pretty = json_display("integrations")
    metadata_pretty = json_display("metadata")
    upstream_fields_pretty = json_display("upstream_fields")

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
        from ..services.sync import sync_jobs

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
