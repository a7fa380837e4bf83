"""The audit trail: one ``AuditEntry`` per API call, failed and
unauthenticated ones included."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.db import connections, router

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
    """Write one audit row (``DatabaseError`` if the database is down).

    Every request writes one, so this is a plain ``INSERT`` through the
    connection's cursor, its values prepared by each field as ``save()``
    would (``pre_save``, ``get_db_prep_save``): the same row, without
    ``save()``'s signals, its transaction and the id read back, which
    nothing here uses."""
    row = AuditEntry(**fields)
    db = router.db_for_write(AuditEntry)
    connection = connections[db]
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in INSERTED]
    with connection.cursor() as cursor:
        cursor.execute(insert_sql(db), values)


#: The columns an audit row is written with (all but its automatic id).
INSERTED = tuple(field for field in AuditEntry._meta.concrete_fields if not field.primary_key)


@functools.cache
def insert_sql(db: str) -> str:
    """The ``INSERT`` of ``record`` on database alias ``db``."""
    quote = connections[db].ops.quote_name
    columns = ", ".join(quote(field.column) for field in INSERTED)
    marks = ", ".join(["%s"] * len(INSERTED))
    return f"INSERT INTO {quote(AuditEntry._meta.db_table)} ({columns}) VALUES ({marks})"
