"""Together AI: open-weight models trained with LoRA or in full."""

from .provider import TogetherProvider

__all__ = ["TogetherProvider"]
