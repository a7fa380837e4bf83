"""Upstream times as the Unix seconds of OpenAI's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def unix_seconds(value: Any) -> int | None:
    """An ISO 8601 time (``2023-05-17T17:35:45.123Z``) or Unix seconds as
    Unix seconds; None when absent or unreadable."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
