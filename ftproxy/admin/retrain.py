"""The job admin's "Retrain on another provider…" action: an intermediate
form asking for the entry, the model and the suffix, then the retrain
service for each selected job. Also the links between a job and its
retrains, both ways, on the job's page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ..errors import GatewayError, ProviderError
from ..models import FineTuningJob
from ..services.jobs.retrain import retrain_job, target_entries, tier_left_behind

ACTION = "retrain_selected"


class RetrainForm(forms.Form):
    """Where to retrain, and on what."""

    provider = forms.ChoiceField(label="Fine-tuning entry")
    model = forms.CharField(
        required=False,
        help_text="Base model on that entry; empty keeps the job's where that entry trains it.",
    )
    suffix = forms.CharField(required=False, help_text="Empty keeps the job's suffix.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [
            (name, f"{name} ({kind})") for name, kind in target_entries()
        ]


def _job_link(job: FineTuningJob) -> str:
    url = reverse("admin:ftproxy_finetuningjob_change", args=[job.pk])
    return format_html('<a href="{}">{}</a> ({})', url, job.public_id, job.provider)


class RetrainActions:
    """Mixed into the job admin: the action and the two link displays."""

    @admin.display(description="retrained from")
    def retrained_from_link(self, job: FineTuningJob) -> str:
        return _job_link(job.retrained_from) if job.retrained_from_id else "—"

    @admin.display(description="retrained as")
    def retrained_as_links(self, job: FineTuningJob) -> str:
        retrains = list(job.retrains.order_by("pk"))
        if not retrains:
            return "—"
        return format_html_join(", ", "{}", ((_job_link(row),) for row in retrains))

    @admin.action(description="Retrain on another provider…", permissions=("operate",))
    def retrain_selected(self, request: HttpRequest, queryset: QuerySet[FineTuningJob]):
        form = RetrainForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            data = form.cleaned_data
            for job in queryset.order_by("pk"):
                try:
                    new = retrain_job(
                        job.public_id,
                        data["provider"],
                        model=data["model"] or None,
                        suffix=data["suffix"] or None,
                    )
                except (ProviderError, GatewayError) as exc:
                    self.message_user(
                        request, f"Could not retrain {job.public_id}: {exc.message}", messages.ERROR
                    )
                    continue
                self.message_user(
                    request,
                    format_html(
                        "Retrained {} on {} as {}{}.",
                        job.public_id,
                        new.provider,
                        _job_link(new),
                        tier_left_behind(job, new),
                    ),
                    messages.SUCCESS,
                )
            return None  # back to the change list
        context = {
            **self.admin_site.each_context(request),
            "title": "Retrain on another provider",
            "opts": self.model._meta,
            "queryset": queryset.order_by("pk"),
            "form": form,
            "action": ACTION,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/ftproxy/finetuningjob/retrain.html", context)
