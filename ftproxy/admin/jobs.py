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
from django.utils.html import format_html, format_html_join

from ..errors import GatewayError, ProviderError
from ..models import File, FineTuningJob, JobEvent
from ..services.jobs.service import job_action, retrieve_job
from ..services.ledger.context import MASTER, CallContext
from .confirm import Touched, confirmation_page, confirmed
from .display import epoch_display, key_link, link, time_display, truncated, truncated_display
from .history import status_history_table
from .job_page import job_fieldsets
from .keys import format_usd
from .ledger import (
    CreatedUpstreamFilter,
    LedgerAdmin,
    ViewOnly,
    json_display,
    ledger_status,
)
from .retrain import RetrainActions
from .sync_now import SYNC_NOW_MAX_JOBS, SYNC_NOW_SECONDS, sync_now

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

    #: "Sync all active jobs now" syncs at most this many jobs, taking no
    #: new one after this many seconds (``sync_now``).
    sync_now_max_jobs = SYNC_NOW_MAX_JOBS
    sync_now_seconds = SYNC_NOW_SECONDS

    list_display = (
        "job_id",
        "provider",
        "model_short",
        "state",
        "owner_link",
        "training_file_column",
        "cost",
        "created_column",
    )
    list_filter = (
        CreatedUpstreamFilter,
        "provider",
        "status",
        "ledger_state",
        "terminal",
        "owner",
    )
    search_fields = (
        "public_id",
        "remote_id",
        "model",
        "fine_tuned_model",
        "training_file",
        "validation_file",
        "owner__name",
    )
    date_hierarchy = "created"
    list_select_related = ("owner",)
    actions = ("refresh_selected", "cancel_selected", "retrain_selected")
    fieldsets = (
        (None, {"fields": ("public_id", "provider", "provider_kind", "remote_id", "key")}),
        ("Status history", {"fields": ("status_history",)}),
        (
            "Job",
            {
                "fields": (
                    "model",
                    "status",
                    "raw_status",
                    "terminal",
                    "fine_tuned_model",
                    "training_file_link",
                    "validation_file_link",
                    "result_files_links",
                    "created_at_local",
                    "finished_at_local",
                    "estimated_finish_local",
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
        ("Cost", {"fields": ("estimated_cost", "cost")}),
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
                    "reached_provider",
                    "sync_error",
                    "created_local",
                    "updated_local",
                    "synced_at_local",
                    "lease_owner",
                    "lease_expires_at_local",
                )
            },
        ),
        ("Provider payload", {"fields": ("payload",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "payload",
        *JSON_DISPLAYS,
        "key",
        "cost",
        "estimated_cost",
        "training_file_link",
        "validation_file_link",
        "result_files_links",
        "created_at_local",
        "finished_at_local",
        "estimated_finish_local",
        "status_history",
        "created_local",
        "updated_local",
        "synced_at_local",
        "lease_expires_at_local",
        "retrained_from_link",
        "retrained_as_links",
    )
    change_list_template = "admin/ftproxy/finetuningjob/change_list.html"

    def get_fieldsets(self, request: HttpRequest, obj: FineTuningJob | None = None):
        """Only what this job has: see ``job_page``."""
        return job_fieldsets(super().get_fieldsets(request, obj), obj)

    created_at_local = epoch_display("created_at", "created at")
    finished_at_local = epoch_display("finished_at", "finished at")
    estimated_finish_local = epoch_display("estimated_finish", "estimated finish")
    lease_expires_at_local = time_display("lease_expires_at", "lease expires at")

    hyperparameters_pretty = json_display("hyperparameters")
    method_pretty = json_display("method")
    error_pretty = json_display("error")
    result_files_pretty = json_display("result_files")
    integrations_pretty = json_display("integrations")
    metadata_pretty = json_display("metadata")
    upstream_fields_pretty = json_display("upstream_fields")

    job_id = truncated_display("public_id", 21, "id")

    @admin.display(description="status", ordering="status")
    def state(self, job: FineTuningJob) -> str:
        return ledger_status(job)

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, job: FineTuningJob) -> str:
        return format_usd(job.cost_usd)

    @admin.display(description="est. cost", ordering="estimated_cost_usd")
    def estimated_cost(self, job: FineTuningJob) -> str:
        return format_usd(job.estimated_cost_usd)

    model_short = truncated_display("model", 20)

    def _file(self, public_id: str | None, *, width: int | None = None) -> str:
        """A link to the ledger's file with that public id (else the id as
        text); on the job's page, with its filename."""
        if not public_id:
            return "—"
        row = File.objects.filter(public_id=public_id).first()
        if row is None:
            return truncated(public_id, width or 60)
        if width:
            return link(row, width=width)
        return format_html(
            '{} <span class="ftp-secondary">{} · {} bytes</span>',
            link(row),
            row.filename,
            row.bytes if row.bytes is not None else "?",
        )

    @admin.display(description="training file", ordering="training_file")
    def training_file_column(self, job: FineTuningJob) -> str:
        return self._file(job.training_file, width=15)

    @admin.display(description="training file")
    def training_file_link(self, job: FineTuningJob) -> str:
        return self._file(job.training_file)

    @admin.display(description="validation file")
    def validation_file_link(self, job: FineTuningJob) -> str:
        return self._file(job.validation_file)

    @admin.display(description="result files")
    def result_files_links(self, job: FineTuningJob) -> str:
        return (
            format_html_join(", ", "{}", ((self._file(f),) for f in job.result_files or [])) or "—"
        )

    @admin.display(description="key", ordering="owner__name")
    def owner_link(self, job: FineTuningJob) -> str:
        return key_link(job.owner)

    @admin.display(description="key")
    def key(self, job: FineTuningJob) -> str:
        return key_link(job.owner, width=None)

    @admin.display(description="status history (oldest first)")
    def status_history(self, job: FineTuningJob) -> str:
        return status_history_table(job)

    @admin.action(description="Refresh from provider", permissions=("operate",))
    def refresh_selected(self, request: HttpRequest, queryset: QuerySet[FineTuningJob]) -> None:
        _run_on_jobs(self, request, queryset, "refresh", retrieve_job)

    @admin.action(description="Cancel selected jobs…", permissions=("operate",))
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[FineTuningJob]):
        """Asks first, on a page listing each job and whether it can be cancelled."""
        if not confirmed(request):
            return confirmation_page(
                self,
                request,
                queryset,
                action="cancel_selected",
                title="Cancel fine-tuning jobs",
                question="Are you sure you want to cancel the selected fine-tuning jobs?",
                consequences=[
                    "Each job is cancelled at its provider; a cancelled job cannot be resumed.",
                    "Training done so far is billed by the provider; no fine-tuned model is "
                    "produced.",
                ],
                rows=[
                    Touched(
                        link=link(job),
                        facts=[
                            job.status or "no status yet",
                            f"on {job.provider}",
                            job.model,
                            f"key: {job.owner.name}" if job.owner else "master key",
                        ],
                        skipped=f"already {job.status}" if job.terminal else "",
                    )
                    for job in queryset.select_related("owner").order_by("pk")
                ],
                button="Yes, cancel them",
            )
        finished = queryset.filter(terminal=True).count()
        if finished:
            self.message_user(
                request, f"Skipped {finished} job(s) already final.", messages.WARNING
            )
        _run_on_jobs(
            self,
            request,
            queryset.filter(terminal=False),
            "cancel",
            lambda ctx, job_id: job_action(ctx, "cancel", job_id),
        )
        return None

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
        """POST: sync the active jobs synced longest ago, as ``manage.py
        ftproxy_sync_jobs`` does, within the bounds of one request
        (``sync_now``), and report its counts and how many are left."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        try:
            result, left = sync_now(max_jobs=self.sync_now_max_jobs, seconds=self.sync_now_seconds)
        except (ProviderError, GatewayError) as exc:
            self.message_user(request, f"Sync failed: {exc.message}", messages.ERROR)
        else:
            summary = (
                f"Synced active jobs: {result.checked} checked, {result.changed} changed, "
                f"{result.failed} failed."
            )
            if left:
                summary += (
                    f" {left} more left for the sync watcher (at most "
                    f"{self.sync_now_max_jobs} jobs or {self.sync_now_seconds:g} s in one press)."
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
