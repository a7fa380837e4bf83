"""The destinations' own dataset limits, checked at job create.

Pure: it judges what the upload's validation counted (examples, the
estimated tokens of the longest one) against the rules the entry's provider
class declares (``Provider.min_training_examples`` and
``Provider.example_token_limits``), so a job that its provider would
refuse, or fail after queueing, is refused before it goes upstream.

A training example longer than its model's limit would be cut from its end,
which removes the assistant's answer it was written to teach, so it is
refused. Tokens are the upload's estimate (4 characters a token, see
``jsonl.FineTuneValidator``), not a tokenizer's count. A provider that
declares no rule (Vertex AI documents no hard minimum for Gemini supervised
tuning) is left to judge for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RuleBroken:
    """Why a file does not fit its destination: the OpenAI-style error code
    and a message that names the rule."""

    code: str
    message: str


def base_model(model: str) -> str:
    """The base model of a model name: ``ft:gpt-4o-mini-2024-07-18:org::id``
    → ``gpt-4o-mini-2024-07-18``; Azure's ``….ft-<id>`` suffix dropped."""
    if model.startswith("ft:"):
        model = model[3:].split(":", 1)[0]
    return model.split(".ft-", 1)[0]


def example_token_limit(model: str, limits: Mapping[str, int]) -> int | None:
    """The per-example token limit of ``model`` in ``limits`` (by base-model
    prefix, the longest wins), if any."""
    base = base_model(model)
    matches = [prefix for prefix in limits if base.startswith(prefix)]
    return limits[max(matches, key=len)] if matches else None


def check_training_file(
    provider: Any,
    model: str,
    *,
    examples: int | None,
    max_example_tokens: int | None,
    param: str = "training_file",
) -> RuleBroken | None:
    """The first rule of ``provider`` (a provider class or instance) that the
    file breaks, or None. Unknown counts (a file uploaded before they were
    recorded) break no rule: the provider judges."""
    minimum = provider.min_training_examples
    if minimum is not None and examples is not None and examples < minimum:
        return RuleBroken(
            "invalid_n_examples",
            f"{param}: the file has {examples} example(s), but fine-tuning on "
            f"{provider.kind} needs at least {minimum} examples.",
        )
    limit = example_token_limit(model, provider.example_token_limits)
    if limit is not None and max_example_tokens is not None and max_example_tokens > limit:
        return RuleBroken(
            "invalid_training_file",
            f"{param}: its longest example has about {max_example_tokens} tokens (estimated), "
            f"over the {limit}-token limit of {base_model(model)} for one training example.",
        )
    return None
