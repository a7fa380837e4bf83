"""Fireworks AI: open-weight models trained with LoRA, from account-scoped
datasets."""

from .provider import FireworksProvider

__all__ = ["FireworksProvider"]
