"""Creates whose outcome is not known: a state machine a crash cannot break.

A create records its row as ``pending``, calls the provider (tagging the job
with the row's public id, see ``providers.gateway_id``) and then, in one
transaction, links the row (remote id, ``ok``, first status). A failure
that surely left nothing upstream marks the row ``failed``; one that may
have (a timeout, a provider 5xx, the gateway dying after the call) leaves
it ``pending`` with the reason in ``ledger_error``.

A ``pending`` row older than its request's own time limit belongs to a
request that is over. ``reconcile_job`` settles it by asking the provider
for the job with that tag: found → linked (the job and its status enter the
ledger as if the create had answered); provably absent → ``failed``; the
provider cannot tell → ``unknown``, flagged for an admin with the reason.
A retry with the same ``Idempotency-Key`` and the sync command both use it.

The link step of both kinds of row lives here (``link_job``, ``link_file``),
so that the services that create and this module that settles share it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from ...conf import FILES, FINE_TUNING, gateway
from ...errors import ProviderError, ProviderNotSupported, may_have_happened
from ...models import File, FineTuningJob, LedgerState
from ...providers.base import Provider
from ...providers.data import FileUpload, RemoteFile, RemoteJob
from .status import SYNCED_AT_RESOLUTION, change_status

logger = logging.getLogger("ftproxy.reconcile")

#: Added to an entry's timeout × attempts: the gateway's own work around the call.
MARGIN_SECONDS = 60
#: Said of creates whose outcome is unknown.
OUTCOME_UNKNOWN = "The outcome is unknown: the provider may have acted on the request."
MAX_ERROR_LENGTH = 2000


def request_limit(provider: Provider | None = None) -> timedelta:
    """How long a create on ``provider`` may take at most (its timeout ×
    attempts + a margin); without one, the longest of any configured entry."""
    if provider is not None:
        providers = [provider]
    else:
        providers = [*gateway().entries(FILES).values(), *gateway().entries(FINE_TUNING).values()]
    seconds = max(
        (p.timeout * (p.max_retries + 1) for p in providers), default=0
    )  # no entries: nothing can be in flight for long
    return timedelta(seconds=seconds + MARGIN_SECONDS)


def link_job(job: FineTuningJob, remote: RemoteJob, *, public_id: str, source: str) -> None:
    """Tie the pending row to the job upstream: remote id, public id,
    ``ok`` and the first status, in one transaction (a crash leaves the row
    pending, never ``ok`` without a status)."""
    with transaction.atomic():
        job.remote_id = remote.remote_id
        job.public_id = public_id
        job.created_at = remote.created_at or job.created_at
        job.ledger_state = LedgerState.OK
        job.ledger_error = ""
        job.save(
            update_fields=[
                "remote_id",
                "public_id",
                "created_at",
                "ledger_state",
                "ledger_error",
                "updated",
            ]
        )
        change_status(job, remote, source=source)


def link_file(row: File, remote: RemoteFile, provider) -> None:
    """Tie the pending row to the file upstream: remote id, public id, the
    provider's view of it and ``ok``, in one save."""
    row.remote_id = remote.remote_id
    if not provider.mints_ids:
        row.public_id = remote.remote_id
    changed = apply_remote_file(row, remote)
    row.ledger_state = LedgerState.OK
    row.ledger_error = ""
    row.save(
        update_fields=[
            *changed,
            "remote_id",
            "public_id",
            "ledger_state",
            "ledger_error",
            "updated",
        ]
    )


def apply_remote_file(row: File, remote: RemoteFile) -> list[str]:
    """Copy the provider's view of the file onto the row; the changed fields
    (to save). Used wherever a provider answers about a file: its link,
    a retrieve, an adoption, a copy.
    ``synced_at`` counts as changed only with another field, or when it is
    older than ``SYNCED_AT_RESOLUTION`` (so an answer that changes nothing
    writes nothing)."""
    values: dict[str, Any] = {
        "status": remote.status,
        "status_details": remote.status_details,
        "raw_status": remote.status,
        "provider_payload": remote.raw,
    }
    if remote.bytes is not None:
        values["bytes"] = remote.bytes
    if remote.created_at:
        values["created_at"] = remote.created_at
    if remote.expires_at is not None:
        values["expires_at"] = remote.expires_at
    if remote.filename:
        values["filename"] = remote.filename
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    now = timezone.now()
    if changed or row.synced_at is None or now - row.synced_at > SYNCED_AT_RESOLUTION:
        row.synced_at = now
        changed.append("synced_at")
    return changed


def settle_failed_create(row: Any, exc: BaseException, *, reached_provider: bool) -> None:
    """Record a create that raised: ``failed`` when nothing can have
    happened upstream, else left ``pending`` with the reason, for
    ``reconcile_*``; ``reached_provider`` is kept on the row (False: the
    create was never sent). Never raises (the caller re-raises ``exc``)."""
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    unknown = reached_provider and may_have_happened(exc)
    row.ledger_error = (f"{message} {OUTCOME_UNKNOWN}" if unknown else message)[:MAX_ERROR_LENGTH]
    row.ledger_state = LedgerState.PENDING if unknown else LedgerState.FAILED
    row.reached_provider = reached_provider
    try:
        row.save(update_fields=["ledger_state", "ledger_error", "reached_provider", "updated"])
    except DatabaseError:
        # The database is gone too: the row stays pending, which is safe
        # (it is reconciled once its time limit is over).
        logger.warning("could not record the failed create of %s", row.public_id)


def _flag(row: Any, reason: str) -> str:
    type(row).objects.filter(pk=row.pk, ledger_state__in=_OPEN).update(
        ledger_state=LedgerState.UNKNOWN,
        ledger_error=f"{OUTCOME_UNKNOWN} {reason}"[:MAX_ERROR_LENGTH],
        updated=timezone.now(),
    )
    row.refresh_from_db(fields=["ledger_state", "ledger_error"])
    logger.warning("%s needs an admin: %s", row.public_id, reason)
    return row.ledger_state


def _fail(row: Any, reason: str) -> str:
    type(row).objects.filter(pk=row.pk, ledger_state__in=_OPEN).update(
        ledger_state=LedgerState.FAILED,
        ledger_error=reason[:MAX_ERROR_LENGTH],
        updated=timezone.now(),
    )
    row.refresh_from_db(fields=["ledger_state", "ledger_error"])
    return row.ledger_state


_OPEN = (LedgerState.PENDING, LedgerState.UNKNOWN)


def reconcile_job(job: FineTuningJob) -> str:
    """Settle a ``pending`` (or ``unknown``) job row from what its provider
    says; return the row's ledger state afterwards. A provider that fails
    to answer leaves the row as it is (``ledger_error`` says why), to be
    tried again."""
    if job.ledger_state not in _OPEN:
        return job.ledger_state
    provider = gateway().provider(FINE_TUNING, job.provider)
    if provider is None:
        return _flag(job, f"Its provider entry {job.provider!r} is no longer configured.")
    try:
        remote = provider.find_job(job.public_id)
    except ProviderNotSupported:
        return _flag(
            job,
            f"{provider.kind} keeps no tag to find the job by; look for a job created at "
            f"{job.created:%Y-%m-%d %H:%M:%S} UTC (model {job.model}) at the provider.",
        )
    except ProviderError as exc:
        type(job).objects.filter(pk=job.pk).update(
            ledger_error=f"Not settled yet, the provider did not answer: {exc.message}"[
                :MAX_ERROR_LENGTH
            ]
        )
        return job.ledger_state
    if remote is None:
        return _fail(job, "The create never reached the provider (no such job there).")
    public_id = job.public_id if provider.mints_ids else remote.remote_id
    link_job(job, remote, public_id=public_id, source="reconcile")
    logger.info("%s linked to %s at %s", public_id, remote.remote_id, provider.name)
    return job.ledger_state


def reconcile_file(row: File) -> str:
    """Settle a ``pending`` file row the same way: found by the gateway's
    id (the sandbox's record, Vertex's object folder) → linked; provably
    absent → ``failed``; OpenAI and Azure keep no such tag → flagged for an
    admin (an extra file upstream costs storage, not a training run)."""
    if row.ledger_state not in _OPEN:
        return row.ledger_state
    provider = gateway().provider(FILES, row.provider)
    if provider is None:
        return _flag(row, f"Its provider entry {row.provider!r} is no longer configured.")
    sent = FileUpload(filename=row.filename, purpose=row.purpose, stream=None, size=row.bytes or 0)
    try:
        remote = provider.find_file(row.public_id, sent)
    except ProviderNotSupported:
        return _flag(
            row,
            f"The upload may have reached {row.provider!r}; look for {row.filename!r} "
            f"({row.bytes} bytes) uploaded at {row.created:%Y-%m-%d %H:%M:%S} UTC.",
        )
    except ProviderError as exc:
        type(row).objects.filter(pk=row.pk).update(
            ledger_error=f"Not settled yet, the provider did not answer: {exc.message}"[
                :MAX_ERROR_LENGTH
            ]
        )
        return row.ledger_state
    if remote is None:
        return _fail(row, "The upload never completed at the provider (no such file there).")
    link_file(row, remote, provider)
    return row.ledger_state


def reconcile(row: Any) -> str:
    """``reconcile_job`` or ``reconcile_file``, by the row's type (an
    upload's completion is settled by ``uploads.settle.settle_row``)."""
    return reconcile_job(row) if isinstance(row, FineTuningJob) else reconcile_file(row)


def reconcile_pending(*, provider: str | None = None) -> dict[str, int]:
    """Settle every pending row whose request is over (older than its own
    entry's request limit; a row of an entry no longer configured, the
    longest of any); counts by outcome. Used by the sync command."""
    counts = {"linked": 0, "failed": 0, "flagged": 0, "open": 0}
    for model, api in ((FineTuningJob, FINE_TUNING), (File, FILES)):
        queryset = model.objects.filter(ledger_state=LedgerState.PENDING).filter(over_limit(api))
        if provider:
            queryset = queryset.filter(provider=provider)
        for row in queryset.order_by("id")[:500]:
            state = reconcile(row)
            key = {"ok": "linked", "failed": "failed", "unknown": "flagged"}.get(state, "open")
            counts[key] += 1
    return counts


def over_limit(api: str) -> Q:
    """Rows (of ``api``'s entries) whose request is over: created longer
    ago than their own entry's ``request_limit``."""
    now = timezone.now()

    def cutoff(limit: timedelta) -> int:
        return int((now - limit).timestamp())

    entries = gateway().entries(api)
    by_cutoff: dict[int, list[str]] = {}
    for name, entry in entries.items():
        by_cutoff.setdefault(cutoff(request_limit(entry)), []).append(name)
    condition = ~Q(provider__in=list(entries)) & Q(created_at__lt=cutoff(request_limit()))
    for moment, names in by_cutoff.items():
        condition |= Q(provider__in=names, created_at__lt=moment)
    return condition
