"""Who is calling and what the call did: passed from views to services."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..models import ApiKey
from ..providers.base import Provider, ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who is calling: an ``ApiKey`` or the master key (``key`` is None)."""

    key: ApiKey | None

    is_authenticated = True

    @property
    def is_master(self) -> bool:
        return self.key is None

    @property
    def label(self) -> str:
        """What logs and audit rows show: the key's prefix, or 'master'."""
        return "master" if self.key is None else self.key.prefix

    @property
    def scope(self) -> str:
        """A stable, unique name for per-caller records (idempotency)."""
        return "master" if self.key is None else f"key:{self.key.pk}"


MASTER = Caller(key=None)


@dataclass
class CallContext:
    """One API call: the caller and the audit facts gathered on the way
    (action, object id, provider, upstream status and time, error)."""

    caller: Caller
    audit: dict[str, Any] = field(default_factory=dict)

    def note(self, **facts: Any) -> None:
        self.audit.update({k: v for k, v in facts.items() if v is not None})

    def upstream(self, provider: Provider, fn: Callable[..., T], *args: Any) -> T:
        """Call a provider hook, recording the provider and the time spent."""
        self.audit["provider"] = provider.name
        started = time.monotonic()
        try:
            return fn(*args)
        except ProviderError as exc:
            if exc.upstream_status is not None:
                self.audit["upstream_status"] = exc.upstream_status
            raise
        finally:
            spent = int((time.monotonic() - started) * 1000)
            self.audit["upstream_ms"] = self.audit.get("upstream_ms", 0) + spent
