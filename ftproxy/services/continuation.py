"""Continued tuning: which earlier job a ``model`` names.

Some upstreams answer with a public name for a fine-tuned model that is not
what they continue tuning from (Vertex AI returns the endpoint you call; it
continues from the tuned ``Model`` resource and a checkpoint id). For their
entries (``Provider.continues_from_ledger``) the gateway finds, in its
ledger, the earlier job that produced the name and hands its raw payload to
the provider, which reads it (the service does not interpret it).
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast

from ..errors import InvalidRequest
from ..models import FineTuningJob, LedgerState
from ..providers.base import Provider
from .context import CallContext


def source_job_payload(ctx: CallContext, provider: Provider, model: str) -> dict[str, Any] | None:
    """The raw payload of the job on an entry of ``provider``'s kind whose
    fine-tuned model or checkpoint ``model`` names, or None.

    The producing job is the first one (by ledger order) whose payload
    mentions the name: a later job can only mention it after it exists (a
    continued job names the tuned model it started from). Only jobs that
    produced a fine-tuned model are searched. A name produced by another
    key's job is a 400, as another key's file is: a key continues only from
    its own models (the master key from any).
    """
    if not provider.continues_from_ledger or not isinstance(model, str) or not model:
        return None
    # The name as it appears in the stored JSON: a quoted string, so that
    # ".../endpoints/8" does not match ".../endpoints/88".
    needle = json.dumps(model)
    row = (
        FineTuningJob.objects.filter(
            provider_kind=provider.kind,
            ledger_state=LedgerState.OK,
            fine_tuned_model__isnull=False,
        )
        .alias(payload_text=Cast("provider_payload", TextField()))
        .filter(payload_text__contains=needle)
        .order_by("id")
        .only("id", "owner_id", "provider_payload")
        .first()
    )
    if row is None:
        return None
    if not ctx.caller.is_master and row.owner_id != getattr(ctx.caller.key, "pk", None):
        raise InvalidRequest(
            f"model: no such fine-tuned model: {model}", param="model", code="model_not_found"
        )
    return row.provider_payload or None
