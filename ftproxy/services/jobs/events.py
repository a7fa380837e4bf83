"""A ledger ``JobEvent`` as OpenAI's job event (the gateway's status
history, and its notices, for providers that keep no events of their own)."""

from __future__ import annotations

from typing import Any

from ...models import JobEvent


def event_of(row: JobEvent) -> dict[str, Any]:
    """OpenAI's ``fine_tuning.job.event`` for one ledger event."""
    level = row.level or ("error" if row.to_status == "failed" else "info")
    message = row.message or (
        f"Status changed from {row.from_status} to {row.to_status}"
        if row.from_status
        else f"Status is {row.to_status}"
    )
    return {
        "object": "fine_tuning.job.event",
        "id": row.public_id,
        "created_at": int(row.created.timestamp()),
        "level": level,
        "message": message,
        "type": "message",
        "data": {
            "from_status": row.from_status or None,
            "to_status": row.to_status or None,
            "provider_status": row.provider_status or None,
            "source": row.source,
            **(row.data or {}),
        },
    }
