"""Bearer-key authentication: the master key or a stored ``ApiKey``.

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
from datetime import timedelta

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from ..conf import gateway
from ..models import ApiKey, hash_key
from ..services.ledger.context import Caller

#: last_used is written at most this often per key, to keep requests at a
#: fixed, small number of queries.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: How long a looked-up key is trusted without asking the database again:
#: the longest a revocation made in another process takes to apply here.
KEY_CACHE_SECONDS = 5.0
#: Entries kept at most (expired ones are dropped first, then all).
KEY_CACHE_SIZE = 10_000

_cache: dict[str, tuple[float, ApiKey]] = {}
_cache_lock = threading.Lock()


def cached_key(hashed: str) -> ApiKey | None:
    """The active key with this hash, from the cache or the database."""
    now = time.monotonic()
    entry = _cache.get(hashed)
    if entry is not None and entry[0] > now:
        return entry[1]
    key = ApiKey.objects.filter(hashed_key=hashed).first()
    if key is None or key.revoked:
        _cache.pop(hashed, None)
        return key
    with _cache_lock:
        if len(_cache) >= KEY_CACHE_SIZE:
            for name in [n for n, (expires, _) in _cache.items() if expires <= now]:
                del _cache[name]
            if len(_cache) >= KEY_CACHE_SIZE:
                _cache.clear()
        _cache[hashed] = (now + KEY_CACHE_SECONDS, key)
    return key


def forget_key(hashed: str | None = None) -> None:
    """Drop one key (or, without ``hashed``, every key) from this process's cache."""
    if hashed is None:
        _cache.clear()
    else:
        _cache.pop(hashed, None)


@receiver(post_save, sender=ApiKey, dispatch_uid="ftproxy-forget-saved-key")
@receiver(post_delete, sender=ApiKey, dispatch_uid="ftproxy-forget-deleted-key")
def _key_changed(sender, instance: ApiKey, **kwargs) -> None:
    forget_key(instance.hashed_key)
    # Again once committed: a request in between may have cached the old row.
    transaction.on_commit(lambda: forget_key(instance.hashed_key))


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"


class BearerKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``. Sets ``request.user`` and
    ``request.auth`` to a ``Caller``, and records it on the underlying
    Django request for the audit middleware."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidApiKey(
                "Malformed Authorization header: expected 'Authorization: Bearer <key>'."
            )
        caller = self._caller_for(token)
        request._request.ftproxy_caller = caller
        return caller, caller

    def _caller_for(self, token: str) -> Caller:
        master = gateway().master_key
        if master and hmac.compare_digest(token.encode(), master.encode()):
            return Caller(key=None)
        key = cached_key(hash_key(token))
        if key is None:
            raise InvalidApiKey("Incorrect API key provided.")
        if key.revoked:
            raise InvalidApiKey("This API key has been revoked.")
        now = timezone.now()
        if key.last_used is None or now - key.last_used > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used=now)
            key.last_used = now
        return Caller(key=key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="ftproxy"'
