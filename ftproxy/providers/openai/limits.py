"""OpenAI's dataset limits (Azure OpenAI documents the same; the sandbox
rehearses them).

- At least 10 training examples (OpenAI's fine-tuning guide, "Example count
  recommendations"; Azure's "Prepare your data": "at least 10"; OpenAI
  answers fewer with ``invalid_n_examples``).
- Per model, a training example may hold at most so many tokens (OpenAI's
  guide, "Token limits", as of 2025-03; Azure documents the same
  training-example context for the same models).
"""

from __future__ import annotations

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
