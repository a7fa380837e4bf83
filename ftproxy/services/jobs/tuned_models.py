"""Fine-tuned models: what ``/v1/models`` lists, retrieves and deletes.

A model is the ``fine_tuned_model`` of a succeeded job in the ledger; the
job carries its lineage (entry, base model, files, cost). A key sees the
models of its own jobs, the master key all; another key's model is a 404,
as an unknown one. Checkpoints' models stay under their job
(``/v1/fine_tuning/jobs/{id}/checkpoints``).

Delete asks the provider first (where it has a delete: ``can_delete_models``)
and records the outcome on the job (``model_deleted_at`` and a notice in
its events) in one transaction. A model the provider no longer has is
recorded as deleted too, so the ledger catches up. Nothing is sent for an
entry without a delete: a 400 says what to do instead.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ...conf import FINE_TUNING
from ...errors import GatewayError, InvalidRequest, ProviderNotFound
from ...models import FineTuningJob, JobEvent
from ..ledger.common import provider_of, visible
from ..ledger.context import CallContext

#: The event ``source`` of a model's deletion in its job's history.
DELETE_SOURCE = "model_delete"


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        f"The model '{model}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
        status_code=404,
    )


def serving(queryset: QuerySet[FineTuningJob] | None = None) -> QuerySet[FineTuningJob]:
    """Jobs whose fine-tuned model exists: succeeded, with a model, not deleted."""
    queryset = FineTuningJob.objects.all() if queryset is None else queryset
    return queryset.filter(
        status="succeeded", fine_tuned_model__isnull=False, model_deleted_at__isnull=True
    ).exclude(fine_tuned_model="")


def list_models(ctx: CallContext) -> list[FineTuningJob]:
    """The caller's fine-tuned models (their jobs), newest first."""
    ctx.note(action="models.list")
    return list(serving(visible(FineTuningJob.objects.all(), ctx)).order_by("-created_at", "-id"))


def retrieve_model(ctx: CallContext, model: str, entry: str | None = None) -> FineTuningJob:
    """The job that produced ``model`` (on provider entry ``entry``, when
    one is named), if the caller may see it; else 404."""
    ctx.note(action="models.retrieve", object_id=model)
    jobs = serving(visible(FineTuningJob.objects.all(), ctx)).filter(fine_tuned_model=model)
    if entry:
        jobs = jobs.filter(provider=entry)
    job = jobs.order_by("-id").first()
    if job is None:
        raise model_not_found(model)
    ctx.note(provider=job.provider)
    return job


def delete_model(ctx: CallContext, model: str, entry: str | None = None) -> FineTuningJob:
    """Delete ``model`` at its provider (entry ``entry``, when one is
    named), then record it on its job."""
    job = retrieve_model(ctx, model, entry)
    ctx.note(action="models.delete")
    provider = provider_of(FINE_TUNING, job)
    if not provider.can_delete_models:
        raise InvalidRequest(
            f"model: provider entry '{provider.name}' ({provider.kind}) has no API to delete "
            f"fine-tuned models through; delete {model} in the provider's own console or "
            "tools. The gateway keeps listing it until then.",
            param="model",
            code="model_delete_unsupported",
        )
    try:
        ctx.upstream(provider, provider.delete_model, model, job.provider_payload or {})
        note = f"The fine-tuned model {model} was deleted."
    except ProviderNotFound:
        note = f"The fine-tuned model {model} was already gone at the provider."
    with transaction.atomic():
        now = timezone.now()
        FineTuningJob.objects.filter(pk=job.pk).update(model_deleted_at=now, updated=now)
        job.model_deleted_at = now
        JobEvent.objects.create(
            job=job,
            from_status=job.status,
            to_status=job.status,
            provider_status=job.raw_status,
            source=DELETE_SOURCE,
            message=note,
            level="info",
        )
    return job
