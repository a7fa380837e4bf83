"""Who is calling and what the call did: passed from views to services."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...errors import ProviderError
from ...models import ApiKey
from ...providers.base import Provider

T = TypeVar("T")

#: The audit fact saying a provider hook was called during the request
#: (read by the retry signal: before it, nothing can have happened upstream).
UPSTREAM_CALLED = "upstream_called"


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
    #: Called with each ledger row a create records, and the provider it
    #: goes to (``idempotency`` ties its claim to the row this way).
    on_record: Callable[[Any, Provider], None] | None = None

    def note(self, **facts: Any) -> None:
        self.audit.update({k: v for k, v in facts.items() if v is not None})

    @property
    def reached_provider(self) -> bool:
        """Whether a provider hook was called: from then on the provider
        may have acted on the request."""
        return bool(self.audit.get(UPSTREAM_CALLED))

    def create_not_sent(self) -> None:
        """The create was never sent (a step before it, such as a copy to the
        target, failed): the calls made so far cannot have made it happen,
        so its Idempotency-Key is freed and the answer is retryable."""
        self.audit.pop(UPSTREAM_CALLED, None)

    def recorded(self, row: Any, provider: Provider) -> None:
        """A create recorded ``row`` (still pending) for ``provider``."""
        if self.on_record is not None:
            self.on_record(row, provider)

    def upstream(self, provider: Provider, fn: Callable[..., T], *args: Any) -> T:
        """Call a provider hook, recording the provider and the time spent."""
        self.audit["provider"] = provider.name
        self.audit[UPSTREAM_CALLED] = True
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
