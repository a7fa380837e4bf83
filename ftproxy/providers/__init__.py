"""Providers: shared parts, one package per upstream family, and the
classes a gateway knows.

Shared parts live here (``base``, ``http``, ``retry``, ``upstream_errors``,
``uploads``, ``times``, ``values``); each upstream family is one package
(``openai``, ``vertex``, ``together``, ``fireworks``, ``sandbox``) with a
``Provider`` subclass that declares its kind and what it can do. The
gateway knows the classes named in ``FTPROXY["PROVIDER_CLASSES"]`` (import
strings; ``DEFAULT_PROVIDER_CLASSES`` when unset), read at call time
through ``ftproxy.conf``. Adding a provider: one package, its class named in
that setting (see docs/providers/adding-a-provider.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.utils.module_loading import import_string

from .base import Provider

#: The provider classes of ``FTPROXY["PROVIDER_CLASSES"]`` when it is unset.
DEFAULT_PROVIDER_CLASSES = (
    "ftproxy.providers.sandbox.SandboxProvider",
    "ftproxy.providers.openai.OpenAIProvider",
    "ftproxy.providers.openai.AzureProvider",
    "ftproxy.providers.vertex.VertexProvider",
    "ftproxy.providers.together.TogetherProvider",
    "ftproxy.providers.fireworks.FireworksProvider",
    "ftproxy.providers.bedrock.BedrockProvider",
    "ftproxy.providers.bedrock.BedrockOpenAIProvider",
)


def classes_by_kind(paths: Iterable[str]) -> dict[str, type[Provider]]:
    """The provider classes named by ``paths`` (import strings), by their
    ``kind``. Raises ``ValueError`` naming the path at fault: one that
    cannot be imported, is not a ``Provider`` subclass with a ``kind``, or
    repeats another's kind."""
    return dict(_classes_by_kind(tuple(paths)))


@lru_cache(maxsize=16)
def _classes_by_kind(paths: tuple[str, ...]) -> tuple[tuple[str, type[Provider]], ...]:
    found: dict[str, type[Provider]] = {}
    for path in paths:
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ValueError(f"{path!r} cannot be imported ({exc})") from None
        if not (isinstance(cls, type) and issubclass(cls, Provider) and cls.kind):
            raise ValueError(f"{path!r} is not a Provider subclass with a kind")
        if cls.kind in found:
            raise ValueError(f"{path!r}: kind {cls.kind!r} is already taken by another class")
        found[cls.kind] = cls
    return tuple(found.items())
