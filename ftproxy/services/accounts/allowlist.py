"""A key's allowlists: the provider entries it may create on and the base
models it may train. Checked when a create has chosen its entry (and, for a
job, before its files are looked at further), so a refusal records and
sends nothing. ``None`` allows any; an empty list allows none. A model
entry is a name (which also covers its dated snapshots, as prices do:
``gpt-4o-mini`` allows ``gpt-4o-mini-2024-07-18``) or a prefix ending in
``*``; a fine-tuned model (``ft:…``) counts as its base model."""

from __future__ import annotations

from ...errors import GatewayError
from ...pricing import lookup_by_model
from ...providers.base import Provider
from ...validation.provider_rules import base_model
from ..ledger.context import CallContext


def refused(message: str, param: str, code: str) -> GatewayError:
    return GatewayError(
        message, param=param, code=code, status_code=403, error_type="permission_error"
    )


def check_allowed(ctx: CallContext, provider: Provider, *, model: object = None) -> None:
    """403 naming the field when the caller's key may not use ``provider``
    (or train ``model``)."""
    key = ctx.caller.key
    if key is None:
        return  # the master key
    if key.allowed_providers is not None and provider.name not in key.allowed_providers:
        allowed = ", ".join(key.allowed_providers) or "none"
        raise refused(
            f"custom_llm_provider: this key may not use provider entry '{provider.name}' "
            f"(allowed: {allowed}).",
            "custom_llm_provider",
            "provider_not_allowed",
        )
    if model is None or key.allowed_models is None:
        return
    name = base_model(str(model))
    if lookup_by_model(name, dict.fromkeys(key.allowed_models, True)) is None:
        allowed = ", ".join(key.allowed_models) or "none"
        raise refused(
            f"model: this key may not train '{model}' (allowed: {allowed}).",
            "model",
            "model_not_allowed",
        )
