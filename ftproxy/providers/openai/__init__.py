"""OpenAI and Azure OpenAI: one wire format, Azure as a subclass that adds
its own auth header, paths and normalisations."""

from .azure import AzureProvider
from .provider import OpenAIProvider

__all__ = ["AzureProvider", "OpenAIProvider"]
