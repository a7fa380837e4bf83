"""Every status change of a fine-tuning job, whatever its source, goes
through ``change_status``: the row lock, the ``JobEvent``, the signal, the
cost and the result files a succeeded job brings. An answer that changes
nothing takes no lock and writes (almost) nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import FILES, gateway
from ..models import File, FineTuningJob, JobEvent, LedgerState
from ..pricing import training_cost
from ..providers.base import ProviderError, RemoteEvent, RemoteJob
from ..signals import job_status_changed
from . import webhooks

logger = logging.getLogger("ftproxy.services")

#: RemoteJob fields copied onto the ledger row as they are.
MIRRORED_FIELDS = (
    "model",
    "fine_tuned_model",
    "finished_at",
    "estimated_finish",
    "trained_tokens",
    "hyperparameters",
    "method",
    "error",
    "organization_id",
    "result_files",
    "seed",
    "integrations",
    "upstream_fields",
)
# Not ``metadata``: the gateway owns it (kept as the caller sent it, also
# where the provider does not take it).


#: Every field ``change_status`` may copy onto the caller's instance.
COPIED_FIELDS = (
    *MIRRORED_FIELDS,
    "status",
    "raw_status",
    "terminal",
    "provider_payload",
    "synced_at",
    "sync_error",
    "cost_usd",
)

#: An answer that changes nothing writes ``synced_at`` only when it is older
#: than this (the sync writes it itself on every job it fetched).
SYNCED_AT_RESOLUTION = timedelta(seconds=60)

#: ``cost_usd`` as the column stores it, so a stored cost compares equal.
COST_PLACES = Decimal(1).scaleb(-FineTuningJob._meta.get_field("cost_usd").decimal_places)


def change_status(job: FineTuningJob, remote: RemoteJob, *, source: str, message: str = "") -> bool:
    """Mirror ``remote`` onto ``job`` and record a status change, if any.

    Compares first: an answer that matches the row as loaded writes nothing
    (at most ``synced_at``, when older than ``SYNCED_AT_RESOLUTION``) and
    takes no lock. Otherwise it locks the row, so concurrent updates are
    serialised: each real change writes exactly one ``JobEvent`` and sends
    ``job_status_changed`` once after commit; a final status is never
    replaced by a stale answer. The provider's notices (``remote.notices``)
    join the events, once each. Returns whether the status changed. ``job``
    is updated in place.
    """
    if not job.sync_error and not _mirror(job, remote):
        now = timezone.now()
        if job.synced_at is None or now - job.synced_at > SYNCED_AT_RESOLUTION:
            FineTuningJob.objects.filter(pk=job.pk).update(synced_at=now, updated=now)
            job.synced_at = now
        return False
    with transaction.atomic():
        row = FineTuningJob.objects.select_for_update().get(pk=job.pk)
        old_status = row.status
        fields = ["synced_at", "sync_error", "updated"]
        row.synced_at = timezone.now()
        row.sync_error = ""
        values = _mirror(row, remote)
        for name, value in values.items():
            setattr(row, name, value)
        fields += list(values)
        changed = row.status != old_status
        row.save(update_fields=fields)
        if changed and row.status == "succeeded":
            _record_result_files(row)
        if changed:
            JobEvent.objects.create(
                job=row,
                from_status=old_status,
                to_status=row.status,
                provider_status=row.raw_status,
                source=source,
                message=message,
            )
            webhooks.enqueue_job_event(row)  # in this transaction: never one without the other
            transaction.on_commit(
                lambda: job_status_changed.send(
                    sender=FineTuningJob, job=row, old_status=old_status, new_status=row.status
                )
            )
        if remote.notices and values:  # not a stale answer
            _record_notices(row, remote.notices, source)
    if changed and row.status == "succeeded":
        describe_result_files(row)  # outside the row lock: it asks the provider
    for name in COPIED_FIELDS:
        setattr(job, name, getattr(row, name))
    return changed


def _mirror(row: FineTuningJob, remote: RemoteJob) -> dict[str, Any]:
    """The fields of ``row`` that ``remote`` changes, with their new values.
    A stale answer (one that contradicts a final status) changes nothing."""
    if row.terminal and (not remote.terminal or remote.raw_status != row.raw_status):
        return {}
    values: dict[str, Any] = {"provider_payload": remote.raw}
    for name in MIRRORED_FIELDS:
        value = getattr(remote, name)
        if name == "model" and not value:
            continue
        values[name] = value
    values.update(status=remote.status, raw_status=remote.raw_status, terminal=remote.terminal)
    if remote.status == "succeeded":
        tokens = values.get("trained_tokens", row.trained_tokens)
        if tokens is not None:
            model = values.get("model") or row.model
            cost = training_cost(model, tokens)  # None: unknown model
            values["cost_usd"] = None if cost is None else cost.quantize(COST_PLACES)
    return {name: value for name, value in values.items() if getattr(row, name) != value}


def _record_notices(job: FineTuningJob, notices: list[RemoteEvent], source: str) -> None:
    """Add the provider's notices to the job's events, each once: a notice
    already there (the same message) is not repeated by later refreshes."""
    messages = [notice.message for notice in notices]
    seen = set(
        JobEvent.objects.filter(job=job, message__in=messages).values_list("message", flat=True)
    )
    for notice in notices:
        if notice.message in seen:
            continue
        seen.add(notice.message)
        JobEvent.objects.create(
            job=job,
            from_status=job.status,
            to_status=job.status,
            provider_status=job.raw_status,
            source=source,
            message=notice.message,
            level=notice.level,
            data=notice.data,
        )


def _record_result_files(job: FineTuningJob) -> None:
    """Put a succeeded job's result files in the ledger, owned by the job's
    key, so that key can download them like any file of its own."""
    if not job.result_files or job.provider_kind == "vertex_ai":
        return
    files = gateway().provider(FILES, job.provider)
    if files is None or files.kind != job.provider_kind:
        return  # no files entry to fetch them through
    for remote_id in job.result_files:
        try:
            with transaction.atomic():  # a clash must not undo the status change
                row, created = File.objects.get_or_create(
                    provider=files.name, remote_id=remote_id, defaults=_result_file(job, remote_id)
                )
        except IntegrityError:
            continue  # the id is taken by another entry's file: leave it to the master key
        if not created and row.owner_id is None and job.owner_id is not None:
            # Adopted earlier by the master key: it is still this key's result.
            File.objects.filter(pk=row.pk).update(owner=job.owner)


def describe_result_files(job: FineTuningJob) -> None:
    """Ask the provider for the real size and name of the job's result files
    that the ledger does not know yet. A failure leaves them for the file
    list to ask again (``services.files.list_files``)."""
    files = gateway().provider(FILES, job.provider)
    if not job.result_files or files is None or files.kind != job.provider_kind:
        return
    pending = File.objects.filter(
        provider=files.name, remote_id__in=job.result_files, bytes__isnull=True
    )
    for row in pending:
        try:
            describe_file(row, files.retrieve_file(row.remote_id))
        except ProviderError as exc:
            logger.warning("could not describe result file %s: %s", row.public_id, exc.message)


def describe_file(row: File, remote) -> None:
    """Copy a provider's size, name and status of a file onto its row."""
    if remote is None:
        return
    fields = ["updated", "synced_at"]
    row.synced_at = timezone.now()
    for name in ("bytes", "filename", "status"):
        value = getattr(remote, name)
        if value not in (None, ""):
            setattr(row, name, value)
            fields.append(name)
    row.save(update_fields=fields)


def _result_file(job: FineTuningJob, remote_id: str) -> dict[str, Any]:
    return {
        "public_id": remote_id,
        "provider_kind": job.provider_kind,
        "owner": job.owner,
        "filename": f"{job.public_id}-results",
        "purpose": "fine-tune-results",
        "status": "processed",
        "created_at": job.finished_at or int(timezone.now().timestamp()),
        "ledger_state": LedgerState.OK,
    }
