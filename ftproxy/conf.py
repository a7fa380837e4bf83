"""Runtime access to the gateway's configuration.

``gateway()`` returns the parsed ``settings.FTPROXY`` with its provider
instances, built once and cached; the cache is dropped when the setting
changes (``override_settings`` in tests). ``provider_classes()`` reads the
provider classes of ``FTPROXY["PROVIDER_CLASSES"]``. Never read at import
time.

An entry has a *kind* (``custom_llm_provider`` in the config: which provider
class serves it) and a *name* (what a request names it by; its kind by
default).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .providers import DEFAULT_PROVIDER_CLASSES, classes_by_kind
from .providers.base import Provider

FILES = "files_settings"
FINE_TUNING = "finetune_settings"
#: The config key of an entry's kind (LiteLLM's word, kept for compatibility);
#: a request names an entry by its ``name``, which defaults to the kind.
KIND_KEY = "custom_llm_provider"
#: The key of ``settings.FTPROXY`` that names the provider classes.
PROVIDER_CLASSES = "PROVIDER_CLASSES"


def provider_class_paths(raw: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The import strings of the provider classes: ``FTPROXY["PROVIDER_CLASSES"]``
    (of ``raw``, or of the settings at call time), by default the built-in ones."""
    if raw is None:
        raw = getattr(settings, "FTPROXY", None) or {}
    return tuple(raw.get(PROVIDER_CLASSES) or DEFAULT_PROVIDER_CLASSES)


def provider_classes() -> dict[str, type[Provider]]:
    """The configured provider classes, by kind."""
    return classes_by_kind(provider_class_paths())


def provider_class(kind: str) -> type[Provider] | None:
    """The configured class of the entries of ``kind``, or None when no
    configured class has that kind (any more)."""
    return provider_classes().get(kind)


def entry_kind(entry: dict[str, Any]) -> str:
    """An entry's kind: which provider class serves it."""
    return entry[KIND_KEY]


def entry_name(entry: dict[str, Any]) -> str:
    """An entry's name: what a request names it by (its kind by default)."""
    return entry.get("name") or entry_kind(entry)


@dataclass
class Gateway:
    """The configured gateway: master key, limits and provider instances."""

    master_key: str | None
    max_upload_bytes: int
    sync_interval_seconds: float
    pricing: dict[str, Decimal]
    #: "refuse" or "allow": a job of unknown cost for a key with a budget.
    unpriced_jobs: str = "refuse"
    providers: dict[str, dict[str, Provider]] = field(default_factory=dict)
    #: The largest total of one Upload (POST /v1/uploads), in bytes.
    max_upload_total_bytes: int = 8192 * 1024 * 1024
    #: A sync watcher (``ftproxy_sync_jobs --watch``) runs beside the server:
    #: readiness fails when its last round is late.
    sync_watcher: bool = False
    #: ``ftproxy_settings.model_shutdowns``: ISO date (or None: none) by model.
    model_shutdowns: dict[str, str | None] = field(default_factory=dict)

    def entries(self, api: str) -> dict[str, Provider]:
        """Configured providers of one API (FILES or FINE_TUNING), by name."""
        return self.providers.get(api, {})

    def provider(self, api: str, name: str) -> Provider | None:
        """The entry of ``api`` named ``name`` (an entry name, not a kind)."""
        return self.entries(api).get(name)


_lock = threading.Lock()
_gateway: Gateway | None = None


def _build(raw: dict[str, Any]) -> Gateway:
    classes = classes_by_kind(provider_class_paths(raw))
    providers: dict[str, dict[str, Provider]] = {}
    for api in (FINE_TUNING, FILES):
        built: dict[str, Provider] = {}
        for entry in raw.get(api, []):
            built[entry_name(entry)] = classes[entry_kind(entry)](entry)
        providers[api] = built
    return Gateway(
        master_key=raw.get("master_key"),
        max_upload_bytes=int(float(raw.get("max_upload_mb", 512)) * 1024 * 1024),
        sync_interval_seconds=float(raw.get("sync_interval_seconds", 60)),
        pricing={k: Decimal(str(v)) for k, v in (raw.get("fine_tuning_pricing") or {}).items()},
        providers=providers,
        unpriced_jobs=raw.get("unpriced_jobs", "refuse"),
        max_upload_total_bytes=int(float(raw.get("max_upload_total_mb", 8192)) * 1024 * 1024),
        sync_watcher=bool(raw.get("sync_watcher", False)),
        model_shutdowns=dict(raw.get("model_shutdowns") or {}),
    )


def gateway() -> Gateway:
    """The configured gateway (built on first use, then cached)."""
    global _gateway
    current = _gateway
    if current is None:
        with _lock:
            if _gateway is None:
                _gateway = _build(getattr(settings, "FTPROXY", {}) or {})
            current = _gateway
    return current


def reset() -> None:
    """Forget the cached gateway (the next call rebuilds it from settings)."""
    global _gateway
    with _lock:
        _gateway = None


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "FTPROXY":
        reset()
