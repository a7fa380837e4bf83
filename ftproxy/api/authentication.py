"""Bearer-key authentication: the master key or a stored ``ApiKey``, looked
up by ``services.keys``."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from ..services.ledger import keys
from .middleware import CALLER, audit_facts


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_code = "invalid_api_key"


class BearerKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``. Sets ``request.user`` and
    ``request.auth`` to a ``Caller``, and records it on the request for the
    audit middleware."""

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
        try:
            caller = keys.caller_for(token)
        except keys.UnknownKey as exc:
            raise InvalidApiKey(str(exc)) from None
        audit_facts(request)[CALLER] = caller
        return caller, caller

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="ftproxy"'
