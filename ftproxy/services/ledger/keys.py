"""Who a bearer token is: the master key or a stored ``ApiKey``.

Keys are cached in process for ``KEY_CACHE_SECONDS``, keyed by the key's
SHA-256, so most requests authenticate without a query. A revocation (or
any other save or delete of the key) drops the entry at once in the process
that made it; other processes (other server workers, hosts, or
``manage.py``) see it within ``KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

import hmac
import threading
import time
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from ...conf import gateway
from ...models import ApiKey, hash_key
from .context import MASTER, Caller

#: last_used is written at most this often per key, to keep requests at a
#: fixed, small number of queries.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: How long a looked-up key is trusted without asking the database again:
#: the longest a revocation made in another process takes to apply here.
KEY_CACHE_SECONDS = 5.0
#: Entries kept at most (expired ones are dropped first, then all).
KEY_CACHE_SIZE = 10_000


class UnknownKey(Exception):
    """The token is no configured or stored key, or a revoked or expired
    one, or one rotated out past its grace period (the message says which)."""


class KeyCache:
    """Active keys by hash, each trusted for ``KEY_CACHE_SECONDS``."""

    def __init__(self, capacity: int = KEY_CACHE_SIZE) -> None:
        self.capacity = capacity
        self.entries: dict[str, tuple[float, ApiKey]] = {}
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, hashed: str) -> ApiKey | None:
        """The key with this hash (active or revoked), from here or the database."""
        now = time.monotonic()
        entry = self.entries.get(hashed)
        if entry is not None and entry[0] > now:
            return entry[1]
        # The current secret, or one rotated out (still in or past its grace).
        key = ApiKey.objects.filter(Q(hashed_key=hashed) | Q(previous_hashed_key=hashed)).first()
        if key is None or key.revoked:
            with self.lock:  # every change under the lock: forget_id iterates
                self.entries.pop(hashed, None)
            return key
        with self.lock:
            if len(self.entries) >= self.capacity:
                for name in [n for n, (expires, _) in self.entries.items() if expires <= now]:
                    del self.entries[name]
                if len(self.entries) >= self.capacity:
                    self.entries.clear()
            self.entries[hashed] = (now + KEY_CACHE_SECONDS, key)
        return key

    def forget(self, hashed: str | None = None) -> None:
        """Drop one key (or, without ``hashed``, every key)."""
        with self.lock:
            if hashed is None:
                self.entries.clear()
            else:
                self.entries.pop(hashed, None)

    def forget_id(self, pk: int) -> None:
        """Drop every entry of the key with primary key ``pk`` (its current
        and rotated-out secrets)."""
        with self.lock:
            for name in [n for n, (_, key) in self.entries.items() if key.pk == pk]:
                self.entries.pop(name, None)


#: This process's cache.
cache = KeyCache()


def cached_key(hashed: str) -> ApiKey | None:
    """The key with this hash, from this process's cache or the database."""
    return cache.get(hashed)


def forget_key(hashed: str | None = None) -> None:
    """Drop one key (or, without ``hashed``, every key) from this process's cache."""
    cache.forget(hashed)


@receiver(post_save, sender=ApiKey, dispatch_uid="ftproxy-forget-saved-key")
@receiver(post_delete, sender=ApiKey, dispatch_uid="ftproxy-forget-deleted-key")
def key_changed(sender, instance: ApiKey, **kwargs) -> None:
    cache.forget_id(instance.pk)
    # Again once committed: a request in between may have cached the old row.
    transaction.on_commit(lambda: cache.forget_id(instance.pk))


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def caller_for(token: str) -> Caller:
    """The caller a bearer token names; ``UnknownKey`` if none (or revoked).
    Notes the key's use at most once per ``LAST_USED_RESOLUTION``."""
    master = gateway().master_key
    if master and hmac.compare_digest(token.encode(), master.encode()):
        return MASTER
    hashed = hash_key(token)
    key = cached_key(hashed)
    if key is None:
        raise UnknownKey("Incorrect API key provided.")
    if key.revoked:
        raise UnknownKey("This API key has been revoked.")
    now = timezone.now()
    if key.expires_at is not None and key.expires_at <= now:
        raise UnknownKey(f"This API key expired at {utc_text(key.expires_at)}.")
    if key.hashed_key != hashed:
        ends = key.previous_key_expires_at
        if ends is None or ends <= now:
            when = f" at {utc_text(ends)}" if ends else ""
            raise UnknownKey(
                f"This API key was rotated; its grace period ended{when}. Use the new key."
            )
    if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        key.last_used = now
    return Caller(key=key)
