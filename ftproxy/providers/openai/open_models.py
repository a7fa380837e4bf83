"""Open-weight models that Azure AI Foundry fine-tunes through the same
``/fine_tuning/jobs`` shape as Azure OpenAI's models.

Source: Microsoft's "Fine-tuning model guidance" table (the
azure-ai-docs include ``fine-tune-models.md``, read December 2026):
``Ministral-3B`` (2411) and ``Qwen-32B``, both in preview, supervised only,
with no Standard training regions: Global training only. Qwen-32B's
training example context is 8,192 tokens; Ministral-3B's is not published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AzureOpenModel:
    """How Azure fine-tunes one open model."""

    name: str
    #: Most tokens in one training example; None where Microsoft gives none.
    example_tokens: int | None


#: Open models by lower-cased id: each trains on Global training only
#: (``trainingType: GlobalStandard``), with supervised fine-tuning only.
AZURE_OPEN_MODELS: dict[str, AzureOpenModel] = {
    model.name.lower(): model
    for model in (
        AzureOpenModel("Ministral-3B", None),
        AzureOpenModel("Qwen-32B", 8192),
    )
}
#: The only training tier these models train on.
OPEN_MODEL_TIER = "globalStandard"


def azure_open_model(model: Any) -> AzureOpenModel | None:
    """The open model ``model`` names (any case), else None."""
    if not isinstance(model, str):
        return None
    return AZURE_OPEN_MODELS.get(model.strip().lower())
