"""The ASGI entry point ``make run`` serves (uvicorn; see ``serving``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from ftproxy.config import require_master_key  # noqa: E402

require_master_key(settings.FTPROXY)  # the server refuses to start without it

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from ftproxy.conf import gateway  # noqa: E402
from ftproxy.services.files.spool import clean_spool  # noqa: E402
from gateway_site.serving import (  # noqa: E402
    BODY_SLACK_BYTES,
    REQUEST_THREADS,
    GuardedApplication,
    ThreadedWSGIBridge,
)

clean_spool()  # spool files of requests that died with an earlier server
application = GuardedApplication(
    ThreadedWSGIBridge(WSGIHandler(), threads=REQUEST_THREADS),
    max_body_bytes=lambda: gateway().max_upload_bytes + BODY_SLACK_BYTES,
)
