"""The gateway's own job id, sent upstream where the provider keeps one.

A create that dies after reaching the provider leaves a ``pending`` ledger
row and, maybe, a job upstream. The job carries the row's public id under
one metadata key (OpenAI and Azure v1 ``metadata``, Vertex ``labels``), so
the gateway can look for it later and link or fail the row. The key is the
gateway's: it is added on the way up, taken off on the way down, and a
user may not send it.
"""

from __future__ import annotations

from typing import Any

#: The one metadata key (and Vertex label) the gateway sends.
GATEWAY_ID_KEY = "ftproxy_job_id"
#: User metadata keys with this prefix are refused (the gateway's namespace).
RESERVED_PREFIX = "ftproxy_"


def with_gateway_id(metadata: dict[str, Any] | None, gateway_id: str | None) -> dict | None:
    """``metadata`` plus the gateway's id (``metadata`` unchanged without one)."""
    if not gateway_id:
        return metadata
    return {**(metadata or {}), GATEWAY_ID_KEY: gateway_id}


def without_gateway_id(metadata: Any) -> Any:
    """``metadata`` as the user sent it: the gateway's key taken off; an
    object that held only that key reads back as it was sent (null)."""
    if not isinstance(metadata, dict) or GATEWAY_ID_KEY not in metadata:
        return metadata
    rest = {k: v for k, v in metadata.items() if k != GATEWAY_ID_KEY}
    return rest or None


def gateway_id_of(metadata: Any) -> str | None:
    """The gateway id a remote job carries, if any."""
    if isinstance(metadata, dict) and isinstance(metadata.get(GATEWAY_ID_KEY), str):
        return metadata[GATEWAY_ID_KEY]
    return None
