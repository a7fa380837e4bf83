"""What fine-tuning costs: USD per 1M trained tokens, by base model.

The shipped table holds only prices read from the providers' own price
pages; a model whose price could not be confirmed is left out, so its cost
stays empty rather than wrong. ``ftproxy_settings.fine_tuning_pricing``
replaces entries of the table and adds new ones.

Lookup (``price_per_million``), over the shipped table merged with the
configured one:

1. the exact name;
2. the longest key that the name extends by a *version suffix*: ``-`` and a
   digit (``gpt-4o-mini-2024-07-18``, ``gemini-2.0-flash-001``), ``@``
   (``gemini-1.0-pro@001``) or ``:`` (``ft:gpt-4o-mini:acme``…). So
   ``gemini-2.0-flash-lite-001`` does *not* take the price of
   ``gemini-2.0-flash``: a different model is never priced as another;
3. a configured key ending in ``*`` matches every name that starts with the
   rest (``"my-org-model-*": 4``), for names no version rule covers;
4. a fine-tuned model used as the base of a continued fine-tune
   (``ft:gpt-4o-mini-2024-07-18:org:suffix:id``) costs what its own base
   model costs, unless a key matched the full ``ft:`` name first;
5. otherwise None: an unknown model has no cost, never a made-up one.

Everything is ``Decimal``; nothing here touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from .conf import gateway

T = TypeVar("T")

MILLION = Decimal(1_000_000)
#: What OpenAI's "auto" epochs come to for an estimate (its usual default).
AUTO_EPOCHS = 3

# USD per 1M trained tokens.
#
# OpenAI: "Fine-tuning" table of https://openai.com/api/pricing/ as
# published in the GPT-5 generation (read August 2025): training per 1M
# tokens. o4-mini reinforcement fine-tuning is billed per training hour,
# not per token, so it is not here.
#
# Vertex AI: "Tuning" section of
# https://cloud.google.com/vertex-ai/generative-ai/pricing (read August
# 2025): supervised fine-tuning per 1M training tokens (tokens in the
# dataset × epochs). gemini-2.0-flash-lite is tunable but its tuning price
# could not be confirmed: it is left out (configure it if you need it).
SHIPPED_PRICES: dict[str, Decimal] = {
    # OpenAI
    "gpt-4.1": Decimal("25.00"),
    "gpt-4.1-mini": Decimal("5.00"),
    "gpt-4.1-nano": Decimal("1.50"),
    "gpt-4o": Decimal("25.00"),
    "gpt-4o-mini": Decimal("3.00"),
    "gpt-3.5-turbo": Decimal("8.00"),
    "davinci-002": Decimal("6.00"),
    "babbage-002": Decimal("0.40"),
    # Vertex AI (Gemini)
    "gemini-2.5-pro": Decimal("25.00"),
    "gemini-2.5-flash": Decimal("5.00"),
    "gemini-2.5-flash-lite": Decimal("1.50"),
    "gemini-2.0-flash": Decimal("3.00"),
}

_VERSION_SUFFIX = re.compile(r"(-\d|@|:)")
_RESOURCE_PREFIX = re.compile(r"^(?:.*/)?models/")


def _table() -> dict[str, Decimal]:
    return {**SHIPPED_PRICES, **gateway().pricing}


def lookup_by_model(name: str, table: Mapping[str, T]) -> T | None:
    """The value of ``table`` for model ``name``, by the rules of the module
    docstring (exact name, version suffix, ``*`` wildcard); None if none."""
    if name in table:
        return table[name]
    best: str | None = None
    for key in table:
        if key.endswith("*"):
            continue
        if name.startswith(key) and _VERSION_SUFFIX.match(name, len(key)):
            if best is None or len(key) > len(best):
                best = key
    if best is not None:
        return table[best]
    wildcards = [k for k in table if k.endswith("*") and name.startswith(k[:-1])]
    if wildcards:
        return table[max(wildcards, key=len)]
    return None


def price_per_million(model: str | None) -> Decimal | None:
    """USD per 1M trained tokens for fine-tuning ``model``, or None if unknown.

    ``model`` is the job's base model as the provider names it; a Vertex
    resource path (``publishers/google/models/gemini-2.5-flash``) is reduced
    to its last segment. See the module docstring for the matching rules.
    """
    if not model:
        return None
    name = _RESOURCE_PREFIX.sub("", model.strip())
    table = _table()
    price = lookup_by_model(name, table)
    if price is None and name.startswith("ft:"):
        base = name.split(":")[1]
        price = lookup_by_model(base, table) if base else None
    return price


def training_cost(model: str | None, trained_tokens: int | None) -> Decimal | None:
    """What ``trained_tokens`` tokens of fine-tuning ``model`` cost, in USD;
    None when the model's price or the token count is unknown."""
    if trained_tokens is None:
        return None
    price = price_per_million(model)
    if price is None:
        return None
    return Decimal(int(trained_tokens)) * price / MILLION


def epochs_of(hyperparameters: Mapping[str, Any] | None, method: Mapping[str, Any] | None) -> int:
    """The number of epochs a job asks for: ``method.<type>.hyperparameters
    .n_epochs`` if set, else ``hyperparameters.n_epochs``; ``"auto"``, a
    missing or a non-positive value count as ``AUTO_EPOCHS``."""
    value: Any = None
    if isinstance(method, Mapping):
        kind = method.get("type")
        section = method.get(kind) if isinstance(kind, str) else None
        if isinstance(section, Mapping):
            value = (section.get("hyperparameters") or {}).get("n_epochs")
    if value in (None, "auto") and isinstance(hyperparameters, Mapping):
        value = hyperparameters.get("n_epochs")
    if isinstance(value, bool):
        return AUTO_EPOCHS
    try:
        epochs = int(value)
    except (TypeError, ValueError):
        return AUTO_EPOCHS
    return epochs if epochs > 0 else AUTO_EPOCHS


def estimated_cost(
    model: str | None, file_tokens: int | None, n_epochs: int | str | None
) -> Decimal | None:
    """The expected cost of training ``model`` on a file of about
    ``file_tokens`` tokens for ``n_epochs`` epochs (``"auto"`` or None means
    ``AUTO_EPOCHS``); None when the model's price or the file's size is
    unknown."""
    if file_tokens is None:
        return None
    epochs = epochs_of({"n_epochs": n_epochs}, None)
    return training_cost(model, int(file_tokens) * epochs)
