"""The sync's leases on jobs: which jobs a round may claim, the claim
itself (``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it),
the renewal before each job's call and the release (see ``sync``)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ...conf import FINE_TUNING, gateway
from ...models import FineTuningJob, LedgerState


def lease_owner_id() -> str:
    """A name for this claimer, unique across hosts and processes: host:pid:uuid."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def row_locking_supported() -> bool:
    """Whether the database can claim with ``SELECT … FOR UPDATE SKIP LOCKED``."""
    return bool(connection.features.has_select_for_update_skip_locked)


def candidates(
    provider: str | None, job_ids: list[str] | None, cutoff: datetime
) -> QuerySet[FineTuningJob]:
    """Jobs a round may claim now: not final, created upstream, not synced
    since ``cutoff``, with no unexpired lease."""
    now = timezone.now()
    queryset = FineTuningJob.objects.filter(terminal=False, ledger_state=LedgerState.OK)
    if provider:
        queryset = queryset.filter(provider=provider)
    if job_ids is not None:
        queryset = queryset.filter(public_id__in=job_ids)
    return queryset.filter(
        Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff),
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now),
    )


def claim(
    candidates: QuerySet[FineTuningJob],
    *,
    owner: str,
    size: int,
    lease_seconds: float,
    row_locking: bool,
) -> list[FineTuningJob]:
    """Lease up to ``size`` candidates to ``owner`` and return them, loaded.

    Oldest-synced first, in one short transaction. With row locking, the
    rows are locked with SKIP LOCKED (rows another claimer is leasing right
    now are passed over) and leased. Without it, one UPDATE that repeats
    the candidate conditions leases them, so a row claimed in the meantime
    is not taken twice. Then one query loads the rows the lease names.
    """
    expires = timezone.now() + timedelta(seconds=lease_seconds)
    with transaction.atomic():
        if row_locking:
            pks = list(claim_query(candidates, size, row_locking=True))
            FineTuningJob.objects.filter(pk__in=pks).update(
                lease_owner=owner, lease_expires_at=expires
            )
        else:
            pks = list(claim_query(candidates, size, row_locking=False))
            candidates.filter(pk__in=pks).update(lease_owner=owner, lease_expires_at=expires)
    if not pks:
        return []
    # Loaded once leased (the lock sorted the ids alone, not whole rows); the
    # lease names the rows this claim took.
    jobs = FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner, lease_expires_at=expires)
    order = {pk: index for index, pk in enumerate(pks)}
    return sorted(jobs, key=lambda job: order[job.pk])


def claim_query(
    candidates: QuerySet[FineTuningJob], size: int, *, row_locking: bool
) -> QuerySet[FineTuningJob]:
    """The ids of up to ``size`` candidates, oldest-synced first (never
    synced before all), locked with SKIP LOCKED when ``row_locking``. The
    partial index ``ftproxy_job_sync_claim`` (migration 0010) serves this
    order, so a claim reads a few index entries instead of sorting every
    active job."""
    ordered = candidates.order_by(F("synced_at").asc(nulls_first=True), "id")
    if row_locking:
        ordered = ordered.select_for_update(skip_locked=True)
    return ordered.values_list("pk", flat=True)[:size]


def renew_leases(
    jobs: list[FineTuningJob], owner: str, lease_seconds: float, covers: dict[str, float]
) -> list[FineTuningJob]:
    """Extend ``owner``'s lease on jobs about to be fetched to cover each
    one's own upstream call (they may have waited since their claim); one
    UPDATE per entry's timeout. Returns the jobs still held: one whose
    lease expired and went to another worker is left to it."""
    groups: dict[float, list[FineTuningJob]] = {}
    for job in jobs:
        seconds = covers.get(job.provider)
        if seconds is None:
            seconds = lease_seconds
            provider = gateway().provider(FINE_TUNING, job.provider)
            if provider is not None:
                seconds = max(seconds, provider.timeout * (provider.max_retries + 1) + 60)
            covers[job.provider] = seconds
        groups.setdefault(seconds, []).append(job)
    now = timezone.now()
    held: list[FineTuningJob] = []
    for seconds, group in groups.items():
        pks = [job.pk for job in group]
        if extend_leases(pks, owner, now + timedelta(seconds=seconds)) < len(pks):
            still = set(
                FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner).values_list(
                    "pk", flat=True
                )
            )
            group = [job for job in group if job.pk in still]
        held.extend(group)
    return held


def extend_leases(pks: list[int], owner: str, expires: datetime) -> int:
    """``UPDATE … SET lease_expires_at = expires WHERE pk IN pks AND
    lease_owner = owner``; returns the rows updated. Plain SQL: it runs at
    every hand-out, between one call ending and the next starting, where
    building the ORM's query costs three times the statement."""
    meta = FineTuningJob._meta
    quote = connection.ops.quote_name
    expiry = meta.get_field("lease_expires_at")
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(expiry.column)} = %s "
        f"WHERE {quote(meta.pk.column)} IN ({', '.join(['%s'] * len(pks))}) "
        f"AND {quote(meta.get_field('lease_owner').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [expiry.get_db_prep_save(expires, connection), *pks, owner])
        return cursor.rowcount


def release(pks: list[int], owner: str, *, error: str | None = None, synced: bool = True) -> None:
    """Drop ``owner``'s lease on the jobs and mark them synced (``change_statuses``
    leaves a fresh ``synced_at`` alone); with ``error``, record the failure;
    with ``synced=False`` (jobs never fetched), only drop the lease."""
    if not pks:
        return
    now = timezone.now()
    fields: dict[str, object] = {"lease_owner": "", "lease_expires_at": None}
    if synced:
        fields.update(synced_at=now, updated=now)
    if error is not None:
        fields.update(sync_error=error)
    FineTuningJob.objects.filter(pk__in=pks, lease_owner=owner).update(**fields)
