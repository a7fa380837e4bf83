"""Providers: shared parts, one package per upstream family, and their table.

Shared parts live here (``base``, ``http``, ``retry``, ``upstream_errors``,
``uploads``); each upstream family is one package (``openai``, ``vertex``,
``sandbox``). Adding a provider: write
one package with a ``Provider`` subclass and add its ``custom_llm_provider``
value here.
"""

from __future__ import annotations

from importlib import import_module

from .base import Provider

PROVIDER_CLASSES: dict[str, str] = {
    "sandbox": "ftproxy.providers.sandbox.SandboxProvider",
    "openai": "ftproxy.providers.openai.OpenAIProvider",
    "azure": "ftproxy.providers.openai.AzureProvider",
    "vertex_ai": "ftproxy.providers.vertex.VertexProvider",
}


def provider_class(kind: str) -> type[Provider]:
    """The class for a ``custom_llm_provider`` value; KeyError if unknown."""
    module_name, _, class_name = PROVIDER_CLASSES[kind].rpartition(".")
    return getattr(import_module(module_name), class_name)
