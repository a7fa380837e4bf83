"""The destinations' own dataset limits, checked at job create.

Pure: it judges what the upload's validation counted (examples, the
estimated tokens of the longest one), so a job that its provider would
refuse, or fail after queueing, is refused before it goes upstream.

- OpenAI (and the sandbox, which rehearses OpenAI) and Azure OpenAI need at
  least 10 training examples (OpenAI's fine-tuning guide, "Example count
  recommendations"; Azure's "Prepare your data": "at least 10"; OpenAI
  answers fewer with ``invalid_n_examples``).
- Per model, a training example may hold at most so many tokens (OpenAI's
  guide, "Token limits", as of 2025-03; Azure documents the same
  training-example context for the same models). A longer example would be
  cut from its end, which removes the assistant's answer it was written to
  teach, so it is refused. Tokens are the upload's estimate (4 characters
  a token, see ``jsonl.FineTuneValidator``), not a tokenizer's count.

Vertex AI documents no hard minimum for Gemini supervised tuning; no rule
applies there.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Provider kinds that follow OpenAI's dataset rules.
OPENAI_RULES = frozenset({"openai", "azure", "sandbox"})

MIN_TRAINING_EXAMPLES = 10

#: Most tokens in one training example, by base model (longest prefix wins).
EXAMPLE_TOKEN_LIMITS = {
    "gpt-4o-mini": 65_536,
    "gpt-4o": 65_536,
    "gpt-4-0613": 8_192,
    "gpt-3.5-turbo-0613": 4_096,
    "gpt-3.5-turbo": 16_385,
    # Azure spells GPT-3.5 without the dot.
    "gpt-35-turbo-0613": 4_096,
    "gpt-35-turbo": 16_385,
}


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


def example_token_limit(model: str) -> int | None:
    """The documented per-example token limit of ``model``, if any."""
    base = base_model(model)
    matches = [prefix for prefix in EXAMPLE_TOKEN_LIMITS if base.startswith(prefix)]
    return EXAMPLE_TOKEN_LIMITS[max(matches, key=len)] if matches else None


def check_training_file(
    provider_kind: str,
    model: str,
    *,
    examples: int | None,
    max_example_tokens: int | None,
    param: str = "training_file",
) -> RuleBroken | None:
    """The first rule of ``provider_kind`` that the file breaks, or None.
    Unknown counts (a file uploaded before they were recorded) break no
    rule: the provider judges."""
    if provider_kind not in OPENAI_RULES:
        return None
    if examples is not None and examples < MIN_TRAINING_EXAMPLES:
        return RuleBroken(
            "invalid_n_examples",
            f"{param}: the file has {examples} example(s), but fine-tuning on "
            f"{provider_kind} needs at least {MIN_TRAINING_EXAMPLES} examples.",
        )
    limit = example_token_limit(model)
    if limit is not None and max_example_tokens is not None and max_example_tokens > limit:
        return RuleBroken(
            "invalid_training_file",
            f"{param}: its longest example has about {max_example_tokens} tokens (estimated), "
            f"over the {limit}-token limit of {base_model(model)} for one training example.",
        )
    return None
