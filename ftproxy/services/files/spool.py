"""Spool files of requests that died: removed at start-up and by the sync.

Django spools uploads over ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to named files in
``FILE_UPLOAD_TEMP_DIR`` and removes them when the request ends; a worker
killed mid-upload leaves its file behind. A file there untouched for
longer than any request can take (``reconcile.request_limit``) belongs to
no live request.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from django.conf import settings

from ..ledger.reconcile import request_limit

logger = logging.getLogger("ftproxy.spool")


def clean_spool(older_than: timedelta | None = None) -> int:
    """Remove spool files not modified within ``older_than`` (default: the
    longest request limit); return how many were removed."""
    directory = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    if not directory or not os.path.isdir(directory):
        return 0
    cutoff = time.time() - (older_than or request_limit()).total_seconds()
    removed = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # its request ended meanwhile
    if removed:
        logger.info("removed %d spool file(s) of dead requests from %s", removed, directory)
    return removed
