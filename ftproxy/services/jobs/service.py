"""Fine-tuning jobs: record first, call the provider, record the outcome.

Every status change of a job goes through ``status.change_status``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from ...conf import FINE_TUNING, provider_classes
from ...errors import InvalidRequest, UnusableFile
from ...models import File, FineTuningJob, JobEvent, LedgerState, mint_id
from ...pricing import epochs_of, estimated_cost
from ...providers.data import Page, RemoteJob
from ...validation.provider_rules import check_training_file
from ..accounts import budgets
from ..accounts.allowlist import check_allowed
from ..ledger.common import (
    choose_provider,
    find,
    job_request,
    locate,
    page,
    provider_of,
    save_adopted,
    visible,
)
from ..ledger.context import CallContext
from ..ledger.reconcile import link_job, settle_failed_create
from ..ledger.status import change_status
from .continuation import check_model_owner, source_job_payload
from .copies import copy_events, notes_after, plan_copies, with_notes
from .events import event_of
from .hyperparameters import refuse_other_kinds_hyperparameters
from .metadata import MetadataText

GS_PREFIX = "gs://"


def _training_reference(
    ctx: CallContext, file_id: str | None, param: str
) -> tuple[str | None, File | None]:
    """Map a public file id to the provider's reference (remote id or URI)."""
    if not file_id:
        return None, None
    row = find(File, ctx, file_id, deleted=False)
    if row is not None:
        return row.remote_id, row
    if file_id.startswith(GS_PREFIX) and not ctx.caller.is_master:
        raise UnusableFile(
            f"{param}: raw gs:// URIs are accepted only with the master key.", param=param
        )
    if ctx.caller.is_master:
        return file_id, None  # forwarded as is; the provider judges it
    raise UnusableFile(f"{param}: no such file: {file_id}", param=param)


def create_job(
    ctx: CallContext,
    body: dict[str, Any],
    entry: str | None,
    *,
    retrained_from: FineTuningJob | None = None,
) -> FineTuningJob:
    """Record the job, create it upstream, record the outcome. ``retrained_from``
    is the job this one re-creates (recorded on the row even if the create fails)."""
    ctx.note(action="fine_tuning.jobs.create")
    training_ref, training_row = _training_reference(ctx, body["training_file"], "training_file")
    validation_ref, validation_row = _training_reference(
        ctx, body.get("validation_file"), "validation_file"
    )
    provider = choose_provider(
        FINE_TUNING, entry, fallback=training_row.provider if training_row else None
    )
    ctx.note(provider=provider.name)
    check_allowed(ctx, provider, model=body["model"])
    training_type = body.get("training_type")
    if training_type and not provider.accepts_training_type:
        raise InvalidRequest(
            f"trainingType (training tiers) is an Azure OpenAI setting; provider "
            f"{provider.name!r} ({provider.kind}) has none.",
            param="trainingType",
        )
    refuse_other_kinds_hyperparameters(body, provider.kind)
    for param, row in (("training_file", training_row), ("validation_file", validation_row)):
        if row is None:
            continue
        if row.purpose != "fine-tune":
            raise UnusableFile(
                f"{param}: {row.public_id} has purpose {row.purpose!r}, not 'fine-tune'.",
                param=param,
            )
    if training_row is not None:
        broken = check_training_file(
            provider,
            body["model"],
            examples=training_row.examples,
            max_example_tokens=training_row.max_example_tokens,
        )
        if broken:
            raise InvalidRequest(broken.message, param="training_file", code=broken.code)
    if training_row is None and training_ref and not provider.takes_file_uri(training_ref):
        takers = [c for c in provider_classes().values() if c.takes_file_uri(training_ref)]
        if takers:
            prefix = next(p for p in takers[0].file_uri_prefixes if training_ref.startswith(p))
            raise UnusableFile(
                f"training_file: {prefix} URIs are only for {', '.join(c.kind for c in takers)}.",
                param="training_file",
            )
    check_model_owner(ctx, provider, body["model"])
    source_job = source_job_payload(ctx, provider, body["model"])
    # Files of another entry are copied to this one (after the job is recorded).
    plan = plan_copies(
        provider,
        {"training_file": training_row, "validation_file": validation_row},
        body,
        source_job=source_job,
    )

    now = int(timezone.now().timestamp())
    estimate = estimated_cost(
        body["model"],
        training_row.estimated_tokens if training_row else None,
        epochs_of(body.get("hyperparameters"), body.get("method")),
    )
    with budgets.reserve(
        ctx.caller.key,
        model=body["model"],
        estimate=estimate,
        file_tokens=training_row.estimated_tokens if training_row else None,
    ):  # a refusal raises here, before any ledger row or upstream call
        job = FineTuningJob.objects.create(
            public_id=mint_id("ftjob"),
            provider=provider.name,
            provider_kind=provider.kind,
            owner=ctx.caller.key,
            model=body["model"],
            status="",  # nothing observed yet: the first status is a change from nothing
            training_file=body["training_file"],
            validation_file=body.get("validation_file"),
            hyperparameters=body.get("hyperparameters") or {},
            method=body.get("method"),
            suffix=body.get("suffix"),
            seed=body.get("seed"),
            integrations=body.get("integrations"),
            metadata=body.get("metadata"),
            training_type=training_type or "",
            requested={
                "hyperparameters": body.get("hyperparameters"),
                "method": body.get("method"),
                "metadata": body.get("metadata"),
            },
            created_at=now,
            estimated_cost_usd=estimate,
            retrained_from=retrained_from,
        )
    ctx.note(object_id=job.public_id)
    ctx.recorded(job, provider)
    try:
        placed = plan.carry_out(ctx, job)
    except Exception as exc:
        # No job upstream: the copy failed before the create was sent.
        settle_failed_create(job, exc, reached_provider=False)
        ctx.create_not_sent()
        raise
    training_ref = placed.get("training_file", training_ref)
    validation_ref = placed.get("validation_file", validation_ref)
    request = job_request(
        body,
        training_file=training_ref,
        validation_file=validation_ref,
        source_job=source_job,
        gateway_id=job.public_id,
    )
    try:
        remote = ctx.upstream(provider, provider.create_job, request)
        link_job(
            job,
            remote,
            public_id=job.public_id if provider.mints_ids else remote.remote_id,
            source="create",
        )
    except Exception as exc:
        # Failed, or left pending for the reconciler when the job may exist
        # upstream; the status stays empty either way (the row is not served).
        settle_failed_create(job, exc, reached_provider=ctx.reached_provider)
        raise
    ctx.note(object_id=job.public_id)
    return job


def list_jobs(
    ctx: CallContext,
    *,
    after: str | None,
    limit: int,
    metadata: dict[str, str] | None,
    metadata_null: bool = False,
    entry: str | None = None,
    columns: tuple[str, ...] = ("public_id",),
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the caller's jobs from the ledger, newest first (of one
    provider entry when ``entry`` names one): the values of ``columns``
    for each (no model instances)."""
    ctx.note(action="fine_tuning.jobs.list")
    queryset = visible(FineTuningJob.objects.all(), ctx)
    if entry:
        queryset = queryset.filter(provider=choose_provider(FINE_TUNING, entry).name)
    if metadata_null:
        queryset = queryset.filter(metadata__isnull=True) | queryset.filter(metadata={})
    for index, (key, value) in enumerate((metadata or {}).items()):
        if '"' in key or "\\" in key:
            raise InvalidRequest(
                f"metadata[{key}]: keys with quotes or backslashes cannot be filtered on.",
                param=f"metadata[{key}]",
            )
        alias = f"metadata_{index}"
        queryset = queryset.alias(**{alias: MetadataText("metadata", key=key)}).filter(
            **{alias: value}
        )
    return page(queryset.values(*columns), after=after, limit=limit, kind="fine-tuning job")


def _locate(ctx: CallContext, job_id: str, entry: str | None) -> tuple[FineTuningJob, bool]:
    return locate(
        FineTuningJob,
        ctx,
        job_id,
        entry,
        api=FINE_TUNING,
        kind="fine-tuning job",
        adopt=lambda provider: _adopt(ctx, provider, job_id),
    )


def _adopt(ctx: CallContext, provider, job_id: str) -> FineTuningJob:
    remote = ctx.upstream(provider, provider.retrieve_job, job_id)
    with transaction.atomic():  # the row and its first status together: never served empty
        return _save_adopted_job(provider, remote)


def _save_adopted_job(provider, remote) -> FineTuningJob:
    job = save_adopted(
        FineTuningJob(
            public_id=remote.remote_id,
            remote_id=remote.remote_id,
            provider=provider.name,
            provider_kind=provider.kind,
            owner=None,
            model=remote.model,
            status="",
            training_file=remote.training_file or "",
            validation_file=remote.validation_file,
            suffix=remote.suffix,
            metadata=remote.metadata,
            created_at=remote.created_at,
            ledger_state=LedgerState.OK,
        )
    )
    change_status(job, remote, source="adopt")
    return job


def run_job_hook(
    ctx: CallContext, job: FineTuningJob, action: str, *, source: str | None = None
) -> bool:
    """Call the provider's ``<action>_job`` hook (retrieve, cancel, pause,
    resume) for a ledger job and record the answer through ``change_status``.
    The one path for API calls and admin actions (the sync fetches with
    ``fetch_job`` and records its batches with ``change_statuses``).
    Returns whether the status changed."""
    # A retrieve older than the ledger's last answer is dropped; what an
    # action (cancel, pause, resume) answers follows the action: it is kept.
    started = timezone.now() if action == "retrieve" else None
    remote = fetch_job(ctx, job, action)
    return change_status(job, remote, source=source or action, fetched_at=started)


def fetch_job(ctx: CallContext, job: FineTuningJob, action: str = "retrieve") -> RemoteJob:
    """Call the provider's ``<action>_job`` hook for a ledger job and return
    its answer, recording nothing (``run_job_hook`` records it; the sync
    fetches in its threads and records in batches)."""
    provider = provider_of(FINE_TUNING, job)
    return ctx.upstream(provider, getattr(provider, f"{action}_job"), job.remote_id)


def _act(ctx: CallContext, action: str, job_id: str, entry: str | None) -> FineTuningJob:
    job, fresh = _locate(ctx, job_id, entry)
    if not (fresh and action == "retrieve"):
        run_job_hook(ctx, job, action)
    return job


def retrieve_job(ctx: CallContext, job_id: str, entry: str | None = None) -> FineTuningJob:
    """The job, refreshed from its provider."""
    ctx.note(action="fine_tuning.jobs.retrieve")
    return _act(ctx, "retrieve", job_id, entry)


def job_action(
    ctx: CallContext, action: str, job_id: str, entry: str | None = None
) -> FineTuningJob:
    """cancel, pause or resume."""
    ctx.note(action=f"fine_tuning.jobs.{action}")
    return _act(ctx, action, job_id, entry)


def list_events(
    ctx: CallContext,
    job_id: str,
    *,
    after: str | None,
    limit: int,
    entry: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The provider's events, or the ledger's status history where the
    provider has none."""
    ctx.note(action="fine_tuning.jobs.events")
    job, _ = _locate(ctx, job_id, entry)
    provider = provider_of(FINE_TUNING, job)
    notes = copy_events(job)
    rest = notes_after(notes, after)
    if rest is not None:  # the cursor is one of the gateway's copy events
        return rest[:limit], len(rest) > limit
    result: Page | None = ctx.upstream(
        provider, provider.list_job_events, job.remote_id, after, limit
    )
    if result is not None:
        events = [
            {"object": "fine_tuning.job.event", **_event_dict(event)} for event in result.items
        ]
        return with_notes(events, result.has_more, notes, limit)
    history = JobEvent.objects.filter(job=job).order_by("-id")
    if after:
        if not after.startswith("ftevent-") or not (after[8:].isascii() and after[8:].isdigit()):
            raise InvalidRequest(f"after: no such event: {after}", param="after")
        history = history.filter(id__lt=int(after[8:]))
    rows = list(history[: limit + 1])
    return [event_of(row) for row in rows[:limit]], len(rows) > limit


def _event_dict(event) -> dict[str, Any]:
    data = {
        "id": event.id,
        "created_at": event.created_at,
        "level": event.level,
        "message": event.message,
        "type": event.type,
    }
    if event.data is not None:
        data["data"] = event.data
    return data


def list_checkpoints(
    ctx: CallContext,
    job_id: str,
    *,
    after: str | None,
    limit: int,
    entry: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The provider's checkpoints of the job, newest first."""
    ctx.note(action="fine_tuning.jobs.checkpoints")
    job, _ = _locate(ctx, job_id, entry)
    provider = provider_of(FINE_TUNING, job)
    result: Page = ctx.upstream(
        provider, provider.list_job_checkpoints, job.remote_id, after, limit
    )
    checkpoints = [
        {
            "object": "fine_tuning.job.checkpoint",
            "id": item.id,
            "created_at": item.created_at,
            "fine_tuned_model_checkpoint": item.fine_tuned_model_checkpoint,
            "step_number": item.step_number,
            "metrics": item.metrics,
            "fine_tuning_job_id": job.public_id,
        }
        for item in result.items
    ]
    return checkpoints, result.has_more
