"""Training budgets and job quotas per key.

A key's **spend** is what its jobs cost or are expected to cost: the
``cost_usd`` of its final jobs (a succeeded job's trained tokens × price,
its estimate while the provider has not told its trained tokens; a
cancelled or failed one counts what the provider billed where the ledger
knows it, else nothing) plus the ``estimated_cost_usd`` of its jobs not yet
final, including creates still in flight. Jobs whose upstream creation
failed count nothing.

``reserve`` runs in ``create_job`` before anything goes upstream: it locks
the key's row (``SELECT … FOR UPDATE``; on SQLite, the database's write
lock), checks the budget and the number of active jobs, and keeps the lock
while the caller inserts the job row, so two concurrent creates are
serialised and the second one sees the first one's estimate. A refusal is a ``QuotaExceeded`` (429
``insufficient_quota``, ``x-should-retry: false``) raised by ``refuse``, the
one place every refusal passes. The master key has no limits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from ... import metrics
from ...conf import gateway
from ...errors import QuotaExceeded
from ...models import ApiKey, FineTuningJob, LedgerState
from ...pricing import price_per_million

logger = logging.getLogger("ftproxy.budgets")

BUDGET_EXCEEDED = "budget_exceeded"
PRICE_UNKNOWN = "price_unknown"
TOO_MANY_ACTIVE_JOBS = "too_many_active_jobs"

MONEY = DecimalField(max_digits=20, decimal_places=6)
ZERO = Value(Decimal(0), MONEY)

#: Jobs that count: created upstream, being created right now, or flagged
#: for an admin because they may have been created upstream (they may cost).
COUNTED = Q(ledger_state__in=[LedgerState.OK, LedgerState.PENDING, LedgerState.UNKNOWN])


def _job_cost():
    """What one job counts for: its cost once final; before, its estimate
    (or its cost, should the ledger know one already). A succeeded job
    whose cost the provider did not tell (no trained tokens) was billed
    all the same: it keeps counting its estimate, or a key could train
    without end on such an upstream."""
    return Case(
        When(
            terminal=True, status="succeeded", then=Coalesce("cost_usd", "estimated_cost_usd", ZERO)
        ),
        When(terminal=True, then=Coalesce("cost_usd", ZERO)),
        default=Coalesce("cost_usd", "estimated_cost_usd", ZERO),
        output_field=MONEY,
    )


def spend_subquery(key_ref: str = "pk") -> Subquery:
    """Spend of the key at ``OuterRef(key_ref)``, for annotating a key queryset
    in one query (the admin's list)."""
    per_key = (
        FineTuningJob.objects.filter(COUNTED, owner=OuterRef(key_ref))
        .values("owner")
        .annotate(total=Sum(_job_cost()))
        .values("total")
    )
    return Subquery(per_key, output_field=MONEY)


def with_spend(queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
    """Keys annotated with ``spend`` (0 for a key without jobs)."""
    return queryset.annotate(spend=Coalesce(spend_subquery(), ZERO))


def usage_of(key: ApiKey) -> tuple[Decimal, int]:
    """The key's spend in USD and its number of active jobs, in one query."""
    usage = FineTuningJob.objects.filter(COUNTED, owner=key).aggregate(
        spend=Sum(_job_cost()), active=Count("id", filter=Q(terminal=False))
    )
    return usage["spend"] or Decimal(0), usage["active"] or 0


def spend_of(key: ApiKey) -> Decimal:
    """The key's spend in USD (see the module docstring)."""
    return usage_of(key)[0]


def active_jobs_of(key: ApiKey) -> int:
    """How many of the key's jobs are not final yet (in flight included)."""
    return FineTuningJob.objects.filter(COUNTED, owner=key, terminal=False).count()


def usd(value: Decimal | None) -> str:
    """Dollars for messages: two decimals, more when there are sub-cents."""
    if value is None:
        return "unknown"
    text = f"{value:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def refuse(key: ApiKey, code: str, message: str) -> QuotaExceeded:
    """The refusal of a job create by a key's limits: logged here, raised
    by the caller. Every budget and quota refusal passes through this one
    function, which counts them (``ftproxy_budget_refusals_total``)."""
    logger.info("refused a job create for key %s: %s (%s)", key.prefix, code, message)
    metrics.count_budget_refusal(code)
    return QuotaExceeded(message, code=code)


@contextlib.contextmanager
def reserve(
    key: ApiKey | None, *, model: str, estimate: Decimal | None, file_tokens: int | None
) -> Iterator[None]:
    """Check ``key``'s budget and job quota for a new job of ``model``
    estimated at ``estimate`` USD (None: unknown; ``file_tokens`` is the
    training file's estimated size, to say why); raise ``QuotaExceeded``
    if refused. Otherwise the body runs with the key's row locked, in one
    transaction: insert the job row there, so the next create counts it.
    The master key (None) and a key without limits pass straight through."""
    if key is None or (key.budget_usd is None and key.max_active_jobs is None):
        yield
        return
    with transaction.atomic():
        if connection.features.has_select_for_update:
            locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        else:  # SQLite: a write takes the database's write lock for this transaction
            ApiKey.objects.filter(pk=key.pk).update(budget_usd=F("budget_usd"))
            locked = ApiKey.objects.get(pk=key.pk)
        _check(locked, model=model, estimate=estimate, file_tokens=file_tokens)
        yield


def _check(key: ApiKey, *, model: str, estimate: Decimal | None, file_tokens: int | None) -> None:
    spend, active = usage_of(key)
    if key.max_active_jobs is not None:
        if active >= key.max_active_jobs:
            raise refuse(
                key,
                TOO_MANY_ACTIVE_JOBS,
                f"This API key has {active} active fine-tuning job(s), the most it may run at "
                f"once ({key.max_active_jobs}). Wait for one to finish or cancel one.",
            )
    if key.budget_usd is None:
        return
    if estimate is None:
        if gateway().unpriced_jobs == "allow":
            return
        if price_per_million(model) is None:
            unknown_because = f"no price is known for model {model!r}"
        elif file_tokens is None:
            unknown_because = "the training file's size in tokens is unknown"
        else:
            unknown_because = "no estimate could be made"
        raise refuse(
            key,
            PRICE_UNKNOWN,
            f"The cost of this job cannot be estimated ({unknown_because}), and this API key "
            f"has a training budget: spend {usd(spend)} of {usd(key.budget_usd)}, estimate "
            "unknown. Ask the gateway's operator to configure the model's price.",
        )
    if spend + estimate > key.budget_usd:
        raise refuse(
            key,
            BUDGET_EXCEEDED,
            f"This job would exceed the API key's training budget: spend {usd(spend)} of "
            f"{usd(key.budget_usd)} (remaining {usd(max(key.budget_usd - spend, Decimal(0)))}), "
            f"estimate for this job {usd(estimate)} (model {model}).",
        )
