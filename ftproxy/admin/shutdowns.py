"""The admin's page of fine-tuned models about to shut down (``?days=N``,
default 30): each with its job, key, data and the command that retrains it
elsewhere, as ``manage.py ftproxy_shutdowns`` lists them."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse

from ..models import ApiKey, File, ModelShutdown
from ..services.jobs import shutdowns
from .display import link

DEFAULT_DAYS = 30
MAX_DAYS = 3650


#: The query parameters the page takes (``e``: Django's mark of a refused query).
PARAMETERS = {"days", "e"}


def days_of(request: HttpRequest) -> int:
    """``?days=N`` within 0..MAX_DAYS, else the default."""
    value = request.GET.get("days", "")
    return min(int(value), MAX_DAYS) if value.isascii() and value.isdigit() else DEFAULT_DAYS


def refused_query(request: HttpRequest) -> bool:
    """A query the page cannot apply (another parameter, or days that is no
    number), answered as Django's lists answer one: back to ``?e=1``."""
    days = request.GET.get("days")
    return bool(set(request.GET) - PARAMETERS) or (
        days is not None and not (days.isascii() and days.isdigit())
    )


def data_link(row: File | None, file_id: str) -> str:
    """The training file, linked, with its name (its id alone when unknown)."""
    return link(row, f"{row.public_id} ({row.filename})") if row else file_id


@admin.register(ModelShutdown)
class ModelShutdownAdmin(admin.ModelAdmin):
    """Its list page is the list of models shutting down soon."""

    class Media:
        css = {"all": ["ftproxy/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if refused_query(request):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        days = days_of(request)
        found = shutdowns.upcoming(days)
        owners = {item.job.owner_id for item in found if item.job.owner_id}
        keys = {key.pk: key for key in ApiKey.objects.filter(pk__in=owners)}
        files = {
            row.public_id: row
            for row in File.objects.filter(public_id__in={i.job.training_file for i in found})
        }
        rows = [
            {
                "shutdown": item.shutdown.isoformat(),
                "days_left": item.days_left,
                "model": item.job.fine_tuned_model,
                "job": link(item.job),
                "provider": item.job.provider,
                "base_model": item.job.model,
                "key": link(keys.get(item.job.owner_id)) if item.job.owner_id else "master",
                "data": data_link(files.get(item.job.training_file), item.job.training_file),
                "command": item.retrain_command,
            }
            for item in found
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Fine-tuned models shutting down within {days} days",
            "opts": self.model._meta,
            "media": self.media,
            "rows": rows,
            "days": days,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/ftproxy/shutdowns.html", context)
