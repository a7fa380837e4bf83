"""A ``SECRET_KEY`` that survives restarts when none is configured."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger("ftproxy.settings")

FILE_NAME = "secret_key"


def load_or_create(var_dir: Path) -> str:
    """The key stored in ``var_dir/secret_key``; created once (mode 0600)
    with a log line when missing. Several processes starting at once agree:
    the file is created exclusively and the losers read the winner's key."""
    path = Path(var_dir) / FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    logger.warning(
        "DJANGO_SECRET_KEY is not set: generated one into %s (keep it, or set DJANGO_SECRET_KEY)",
        path,
    )
    return key


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise FileNotFoundError(path)  # a creator still writing it: treat as missing
    return key
