"""The audit trail: one ``AuditEntry`` per API call, failed and
unauthenticated ones included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...models import AuditEntry
from .context import Caller


def storable(text: str) -> str:
    """``text`` as any database stores it: no NUL, no lone surrogates (a
    request refused for holding them is still audited)."""
    if "\x00" in text:
        text = text.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return text.encode("utf-8", "replace").decode("utf-8")


def entry_fields(
    *,
    request_id: str,
    caller: Caller | None,
    method: str,
    path: str,
    facts: Mapping[str, Any],
    status_code: int,
    duration_ms: int,
) -> dict[str, Any]:
    """The audit row's fields for one call, cut to the columns' sizes.
    ``facts`` are what the call noted (action, object id, provider,
    upstream status and time, error)."""
    return {
        "request_id": request_id,
        "key": caller.key if caller else None,
        "key_prefix": caller.label if caller else "",
        "method": method[:10],
        "path": storable(path[:500]),
        "action": facts.get("action", "")[:60],
        "object_id": storable((facts.get("object_id") or "")[:200]),
        "provider": storable((facts.get("provider") or "")[:100]),
        "status_code": status_code,
        "upstream_status": facts.get("upstream_status"),
        "duration_ms": duration_ms,
        "upstream_ms": facts.get("upstream_ms"),
        "error": storable((facts.get("error") or "")[:2000]),
    }


def record(fields: Mapping[str, Any]) -> None:
    """Write one audit row (``DatabaseError`` if the database is down)."""
    AuditEntry.objects.create(**fields)
