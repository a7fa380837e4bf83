"""Hyperparameters of one kind of entry: a provider's own settings (its
``Provider.extra_hyperparameters``, e.g. Vertex AI's ``adapter_size`` or
Together AI's ``lora_r``) mean nothing to entries of other kinds, so a job
for those is refused naming the setting rather than sent with it."""

from __future__ import annotations

from typing import Any

from ...conf import provider_classes
from ...errors import InvalidRequest


def kind_only_hyperparameters() -> dict[str, frozenset[str]]:
    """Hyperparameters only some kinds of entry know (the gateway accepts them
    beside OpenAI's for those kinds; ``Provider.extra_hyperparameters``), with
    those kinds."""
    kinds: dict[str, set[str]] = {}
    for kind, cls in provider_classes().items():
        for key in cls.extra_hyperparameters:
            kinds.setdefault(key, set()).add(kind)
    return {key: frozenset(found) for key, found in kinds.items()}


def refuse_other_kinds_hyperparameters(body: dict[str, Any], target_kind: str) -> None:
    """A create for an entry of ``target_kind`` that sets a hyperparameter
    only other kinds know: a 400 naming it, before anything is sent (left
    at ``"auto"`` or null it asks for nothing, and goes on as sent)."""
    method = body.get("method") or {}
    kind = method.get("type") or "supervised"
    spec = method.get(kind) if isinstance(method.get(kind), dict) else {}
    places = [
        ("hyperparameters", body.get("hyperparameters") or {}),
        (f"method.{kind}.hyperparameters", spec.get("hyperparameters") or {}),
    ]
    only_on = kind_only_hyperparameters()
    for where, values in places:
        for key, value in values.items():
            kinds = only_on.get(key)
            if kinds and target_kind not in kinds and value not in (None, "auto"):
                raise InvalidRequest(
                    f"{where}.{key} exists only on {', '.join(sorted(kinds))}; "
                    f"{target_kind} cannot take it.",
                    param=f"{where}.{key}",
                )
