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

from django.db import DatabaseError

from .. import metrics
from ..models import AuditEntry

logger = logging.getLogger("ftproxy.requests")

REQUEST_ID_HEADER = "x-request-id"
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


def storable(text: str) -> str:
    """``text`` as any database stores it: no NUL, no lone surrogates (a
    request refused for holding them is still audited)."""
    if "\x00" in text:
        text = text.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return text.encode("utf-8", "replace").decode("utf-8")


def is_audited(path: str) -> bool:
    return not path.startswith(UNAUDITED_PREFIXES)


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
        if is_audited(request.path):
            self._record(request, response, time.monotonic() - started)
        return response

    def _record(self, request, response, seconds: float) -> None:
        duration_ms = int(seconds * 1000)
        audit = request.ftproxy_audit
        caller = getattr(request, "ftproxy_caller", None)
        key_prefix = caller.label if caller else ""
        fields = {
            "request_id": request.ftproxy_request_id,
            "key": caller.key if caller else None,
            "key_prefix": key_prefix,
            "method": request.method[:10],
            "path": storable(request.path[:500]),
            "action": audit.get("action", "")[:60],
            "object_id": storable((audit.get("object_id") or "")[:200]),
            "provider": storable((audit.get("provider") or "")[:100]),
            "status_code": response.status_code,
            "upstream_status": audit.get("upstream_status"),
            "duration_ms": duration_ms,
            "upstream_ms": audit.get("upstream_ms"),
            "error": storable((audit.get("error") or "")[:2000]),
        }
        level, unwritten = logging.INFO, ""
        try:
            AuditEntry.objects.create(**fields)
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
