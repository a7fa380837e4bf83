"""Runtime access to the gateway's configuration.

``gateway()`` returns the parsed ``settings.FTPROXY`` with its provider
instances, built once and cached; the cache is dropped when the setting
changes (``override_settings`` in tests). Never read at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .providers import provider_class
from .providers.base import Provider

FILES = "files_settings"
FINE_TUNING = "finetune_settings"


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

    def entries(self, api: str) -> dict[str, Provider]:
        """Configured providers of one API (FILES or FINE_TUNING), by name."""
        return self.providers.get(api, {})

    def provider(self, api: str, name: str) -> Provider | None:
        return self.entries(api).get(name)


_lock = threading.Lock()
_gateway: Gateway | None = None


def _build(raw: dict[str, Any]) -> Gateway:
    providers: dict[str, dict[str, Provider]] = {}
    for api in (FINE_TUNING, FILES):
        built: dict[str, Provider] = {}
        for entry in raw.get(api, []):
            built[entry["name"]] = provider_class(entry["custom_llm_provider"])(entry)
        providers[api] = built
    return Gateway(
        master_key=raw.get("master_key"),
        max_upload_bytes=int(float(raw.get("max_upload_mb", 512)) * 1024 * 1024),
        sync_interval_seconds=float(raw.get("sync_interval_seconds", 60)),
        pricing={k: Decimal(str(v)) for k, v in (raw.get("fine_tuning_pricing") or {}).items()},
        providers=providers,
        unpriced_jobs=raw.get("unpriced_jobs", "refuse"),
        max_upload_total_bytes=int(float(raw.get("max_upload_total_mb", 8192)) * 1024 * 1024),
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
