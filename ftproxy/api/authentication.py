"""Bearer-key authentication: the master key or a stored ``ApiKey``."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from ..conf import gateway
from ..models import ApiKey, hash_key
from ..services.context import Caller

#: last_used is written at most this often per key, to keep requests at a
#: fixed, small number of queries.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
        key = ApiKey.objects.filter(hashed_key=hash_key(token)).first()
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
