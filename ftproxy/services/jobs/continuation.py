"""Continued tuning: which earlier job a ``model`` names.

Some upstreams answer with a public name for a fine-tuned model that is not
what they continue tuning from (Vertex AI returns the endpoint you call; it
continues from the tuned ``Model`` resource and a checkpoint id). For such
names the gateway finds, in its ledger, the earlier job that produced the
name and hands its raw payload to the provider, which reads it (the service
does not interpret it). Which names need tracing is the provider's call
(``tuned_model_reference``).

Names the provider does not trace (OpenAI's and the sandbox's ``ft:…``,
Azure's ``….ft-…``, their checkpoints) go upstream as they are, but a key
still trains only from its own: ``check_model_owner``.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast

from ...errors import GatewayError, InvalidRequest
from ...models import FineTuningJob, LedgerState
from ...providers.base import Provider
from ...validation.provider_rules import base_model
from ..ledger.context import CallContext


def source_job_payload(ctx: CallContext, provider: Provider, model: str) -> dict[str, Any] | None:
    """The raw payload of the job on an entry of ``provider``'s kind that
    produced the fine-tuned model (or checkpoint) ``model`` names, or None
    when ``model`` names no fine-tuned model (a base model).

    The producing job is the first one (in ledger order) that produced a
    fine-tuned model and whose payload mentions the name: a later job can
    only mention it after it exists (a continued job names the tuned model
    it started from). A key continues only from models of its own jobs, as
    it trains only on its own files: another key's, or one the ledger does
    not know, is a 400 (the master key may name any; the provider then
    judges a name it cannot trace).
    """
    reference = provider.tuned_model_reference(model) if isinstance(model, str) else None
    if reference is None:
        return None
    # The name as it appears in the stored JSON: a quoted string, so that
    # ".../endpoints/8" does not match ".../endpoints/88".
    needle = json.dumps(reference)
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
    if ctx.caller.is_master:
        return row.provider_payload if row is not None else None
    if row is None or row.owner_id != ctx.caller.key.pk:
        raise InvalidRequest(
            f"model: no such fine-tuned model: {model} (name the 'fine_tuned_model' or a "
            "checkpoint's 'fine_tuned_model_checkpoint' of one of your jobs)",
            param="model",
            code="model_not_found",
        )
    return row.provider_payload


#: How an OpenAI-style checkpoint's name extends its job's fine-tuned model.
CHECKPOINT_MARK = ":ckpt-step-"


def check_model_owner(ctx: CallContext, provider: Provider, model: Any) -> None:
    """Refuse, as another key's object, a fine-tuned ``model`` (or one of
    its checkpoints) that the ledger says another key's job produced. A
    name the ledger does not know (a base model, a model made outside the
    gateway) is the provider's to judge; the master key may name any.
    Names the provider traces itself are checked by ``source_job_payload``."""
    if ctx.caller.is_master or not isinstance(model, str) or base_model(model) == model:
        return  # the master key, or not a fine-tuned model's name
    if provider.tuned_model_reference(model) is not None:
        return
    names = {model, model.split(CHECKPOINT_MARK, 1)[0]}
    owners = set(
        FineTuningJob.objects.filter(fine_tuned_model__in=names, ledger_state=LedgerState.OK)
        .values_list("owner_id", flat=True)
        .distinct()[:10]
    )
    if owners and ctx.caller.key.pk not in owners:
        raise GatewayError(
            f"model: no such fine-tuned model: {model}",
            param="model",
            code="model_not_found",
            status_code=404,
        )
