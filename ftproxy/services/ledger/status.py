"""Every status change of a fine-tuning job, whatever its source, goes
through ``change_status``: the row lock, the ``JobEvent``, the signal, the
cost and the result files a succeeded job brings. An answer that changes
nothing takes no lock and writes (almost) nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ...conf import FILES, gateway
from ...errors import ProviderError
from ...models import File, FineTuningJob, JobEvent, LedgerState
from ...pricing import training_cost
from ...providers.data import RemoteEvent, RemoteJob
from ...signals import job_status_changed
from ..accounts import webhooks

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

#: What ``change_statuses`` may change on the caller's instance (and puts
#: back if its transaction fails).
RESTORED = (*COPIED_FIELDS, "updated")

#: ``cost_usd`` as the column stores it, so a stored cost compares equal.
COST_PLACES = Decimal(1).scaleb(-FineTuningJob._meta.get_field("cost_usd").decimal_places)


def change_status(
    job: FineTuningJob,
    remote: RemoteJob,
    *,
    source: str,
    message: str = "",
    fetched_at: datetime | None = None,
) -> bool:
    """Mirror ``remote`` onto ``job`` and record a status change, if any.

    Compares first: an answer that matches the row as loaded writes nothing
    (at most ``synced_at``, when older than ``SYNCED_AT_RESOLUTION``) and
    takes no lock. Otherwise it locks the row, so concurrent updates are
    serialised: each real change writes exactly one ``JobEvent`` and sends
    ``job_status_changed`` once after commit; a final status is never
    replaced by a stale answer. An answer fetched (its call started at
    ``fetched_at``) before the row's last recorded answer (``synced_at``)
    is older than what the ledger holds: it writes nothing. The provider's
    notices (``remote.notices``) join the events, once each. Returns
    whether the status changed. ``job`` is updated in place.
    """
    fetched = None if fetched_at is None else [fetched_at]
    return change_statuses([(job, remote)], source=source, message=message, fetched_at=fetched)[0]


def change_statuses(
    answers: list[tuple[FineTuningJob, RemoteJob]],
    *,
    source: str,
    message: str = "",
    fetched_at: Sequence[datetime | None] | None = None,
) -> list[bool]:
    """``change_status`` for many jobs at once (the sync's batches), with the
    same guarantees per job. The answers are compared first; the jobs with
    nothing to write take no lock and share one UPDATE of a stale
    ``synced_at``. The others are locked in one query (in primary-key
    order) and written in one transaction: a row unchanged since it was
    loaded (same ``VERSION_FIELDS``) is written from the job as loaded,
    any other is read again under the lock and compared anew; each real
    change gets its own ``JobEvent``, webhook event and signal after
    commit. ``fetched_at`` gives, per answer, when its upstream call
    started: a row written since the job was loaded with a ``synced_at``
    later than that (a retrieve recorded a newer answer meanwhile) is left
    as it is, the older answer dropped. If anything fails (a job no longer in the ledger raises
    ``DoesNotExist``), the whole transaction is rolled back and the jobs
    are left as loaded. Returns, per answer, whether the status changed."""
    changed = [False] * len(answers)
    now = timezone.now()
    stale: list[FineTuningJob] = []
    pending: list[tuple[int, FineTuningJob, RemoteJob]] = []
    for index, (job, remote) in enumerate(answers):
        if job.sync_error or _mirror(job, remote):
            pending.append((index, job, remote))
        elif job.synced_at is None or now - job.synced_at > SYNCED_AT_RESOLUTION:
            stale.append(job)
    if stale:
        FineTuningJob.objects.filter(pk__in=[job.pk for job in stale]).update(
            synced_at=now, updated=now
        )
        for job in stale:
            job.synced_at = job.updated = now
    if not pending:
        return changed
    when = list(fetched_at) if fetched_at is not None else [None] * len(answers)
    written: list[tuple[int, FineTuningJob, FineTuningJob]] = []
    # A rolled-back batch leaves the callers' jobs as loaded.
    loaded = [(job, {name: getattr(job, name) for name in RESTORED}) for _, job, _ in pending]
    try:
        with transaction.atomic():
            rows = _lock_current([job for _, job, _ in pending])
            updates: list[tuple[FineTuningJob, dict[str, Any]]] = []
            outdated: set[int] = set()
            for index, job, remote in pending:
                row = rows.get(job.pk)
                if row is None:
                    raise FineTuningJob.DoesNotExist(f"{job.public_id} is no longer in the ledger.")
                if row is not job and _older(when[index], row):
                    outdated.add(row.pk)
                    updates.append((row, {}))
                else:
                    updates.append((row, _mirror(row, remote)))
            old_statuses = [row.status for row, _ in updates]
            _write([(row, values) for row, values in updates if row.pk not in outdated])
            for (index, job, remote), (row, values), old_status in zip(
                pending, updates, old_statuses, strict=True
            ):
                changed[index] = _record(row, old_status, values, remote, source, message)
                written.append((index, job, row))
    except BaseException:
        for job, values in loaded:
            for name, value in values.items():
                setattr(job, name, value)
        raise
    for _, job, row in written:
        if row is not job:  # read again under the lock
            for name in RESTORED:
                setattr(job, name, getattr(row, name))
    for index, _, row in written:
        if changed[index] and row.status == "succeeded":
            describe_result_files(row)  # outside the row lock: it asks the provider
    return changed


def _older(fetched_at: datetime | None, row: FineTuningJob) -> bool:
    """Whether an answer whose call started at ``fetched_at`` is older than
    the last answer recorded on ``row`` (read under its lock)."""
    older = fetched_at is not None and row.synced_at is not None and row.synced_at > fetched_at
    if older:
        logger.info("%s: dropped an answer older than the ledger's", row.public_id)
    return older


#: Read under the row lock: a row whose values match the job as loaded has
#: not been changed since (every status change and every write of the
#: mirrored fields sets ``updated``), so the comparison made with the
#: loaded job holds and the row need not be read again.
VERSION_FIELDS = ("status", "raw_status", "terminal", "sync_error", "updated")


def _lock_current(jobs: list[FineTuningJob]) -> dict[int, FineTuningJob]:
    """Lock the jobs' rows (primary-key order) and return them by pk as they
    are now: the loaded job itself where the row has not changed since it
    was loaded, else the row read again. A row gone is left out."""
    locked = FineTuningJob.objects.select_for_update().filter(pk__in=[job.pk for job in jobs])
    versions = {
        pk: tuple(values)
        for pk, *values in locked.order_by("pk").values_list("pk", *VERSION_FIELDS)
    }
    rows: dict[int, FineTuningJob] = {}
    moved: list[int] = []
    for job in jobs:
        version = versions.get(job.pk)
        if version is None:
            continue
        if version == tuple(getattr(job, name) for name in VERSION_FIELDS):
            rows[job.pk] = job
        else:
            moved.append(job.pk)
    if moved:  # already locked: no lock needed to read them again
        rows.update(FineTuningJob.objects.in_bulk(moved))
    return rows


def _write(updates: list[tuple[FineTuningJob, dict[str, Any]]]) -> None:
    """Set each row's changed values (and ``synced_at``, ``sync_error``,
    ``updated``), in memory and in the database: one ``executemany`` per
    set of changed fields rather than one ``save()`` per row, which costs
    several times the CPU. Inside the caller's transaction, rows locked."""
    now = timezone.now()
    meta = FineTuningJob._meta
    quote = connection.ops.quote_name
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for row, values in updates:
        values = {**values, "synced_at": now, "sync_error": "", "updated": now}
        for name, value in values.items():
            setattr(row, name, value)
        names = tuple(values)
        params = [
            meta.get_field(name).get_db_prep_save(value, connection)
            for name, value in values.items()
        ]
        groups.setdefault(names, []).append([*params, row.pk])
    with connection.cursor() as cursor:
        for names, rows in groups.items():
            columns = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
            sql = f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"
            if len(rows) == 1:
                cursor.execute(sql, rows[0])
            else:
                cursor.executemany(sql, rows)


def _record(
    row: FineTuningJob,
    old_status: str,
    values: dict[str, Any],
    remote: RemoteJob,
    source: str,
    message: str,
) -> bool:
    """What follows a row's update, locked in the caller's transaction: for
    a status change its result files, event, webhook event and signal
    (after commit); the provider's notices. Returns whether the status
    changed."""
    changed = row.status != old_status
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
    if not job.result_files:
        return
    files = gateway().provider(FILES, job.provider)
    if files is None or files.kind != job.provider_kind or not files.result_files_are_files:
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
