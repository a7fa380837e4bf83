"""Per-request context: request id, audit row and one structured log line.

Views and the exception handler put what they know on
``request.ftproxy_audit`` (action, object id, provider, upstream status and
time, error); this middleware writes it once the response is ready, for
every API call, including failed and unauthenticated ones.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from django.db import DatabaseError

from .. import metrics
from ..services.ledger import audit

logger = logging.getLogger("ftproxy.requests")

REQUEST_ID_HEADER = "x-request-id"
#: The audit fact naming the authenticated ``Caller``.
CALLER = "caller"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNAUDITED_PREFIXES = (
    "/admin",
    "/static",
    "/health",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/favicon.ico",
    "/metrics",
)


def audit_facts(request) -> dict[str, Any]:
    """The facts the middleware audits for this request (a Django request or
    DRF's, which reads through to it); a dict of its own where the
    middleware is not installed."""
    facts = getattr(request, "ftproxy_audit", None)
    if facts is None:
        facts = {}
        request.ftproxy_audit = facts
    return facts


def is_audited(request) -> bool:
    """Calls to the gateway's own views (``audited``), not to the host
    project's; and, where no view answered, every path but those above."""
    match = request.resolver_match
    if match is not None:
        return getattr(getattr(match.func, "cls", None), "audited", False)
    return not request.path.startswith(UNAUDITED_PREFIXES)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.ftproxy_request_id = (
            incoming if _VALID_REQUEST_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        )
        request.ftproxy_audit = {}
        started = time.monotonic()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.ftproxy_request_id
        if is_audited(request):
            self._record(request, response, time.monotonic() - started)
        return response

    def _record(self, request, response, seconds: float) -> None:
        duration_ms = int(seconds * 1000)
        facts = request.ftproxy_audit
        fields = audit.entry_fields(
            request_id=request.ftproxy_request_id,
            caller=facts.get(CALLER),
            method=request.method,
            path=request.path,
            facts=facts,
            status_code=response.status_code,
            duration_ms=duration_ms,
        )
        key_prefix = fields["key_prefix"]
        level, unwritten = logging.INFO, ""
        try:
            audit.record(fields)
        except DatabaseError as exc:
            # The database is down (the answer says so too): one line, no traceback.
            level, unwritten = logging.WARNING, f" audit=unwritten({type(exc).__name__})"
        logger.log(
            level,
            "request_id=%s key=%s action=%s object=%s provider=%s status=%s upstream=%s ms=%s%s",
            fields["request_id"],
            key_prefix or "-",
            fields["action"] or "-",
            fields["object_id"] or "-",
            fields["provider"] or "-",
            fields["status_code"],
            fields["upstream_status"] if fields["upstream_status"] is not None else "-",
            duration_ms,
            unwritten,
            extra={"ftproxy": {k: v for k, v in fields.items() if k != "key"}},
        )
        metrics.observe_request(fields["action"], fields["provider"], response.status_code, seconds)
