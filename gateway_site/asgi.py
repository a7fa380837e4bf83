"""The ASGI entry point ``make run`` serves (uvicorn; see ``serving``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

# Django's ASGI handler runs each request in a thread of its own, so a
# connection kept open past its request is never used again: it would only
# pile up (one per request, until garbage collection) and exhaust the
# database's connection limit. Each request closes its own at its end.
for _database in settings.DATABASES.values():
    _database["CONN_MAX_AGE"] = 0

from ftproxy.conf import gateway  # noqa: E402
from ftproxy.services.spool import clean_spool  # noqa: E402
from gateway_site.serving import (  # noqa: E402
    BODY_SLACK_BYTES,
    GatewayASGIHandler,
    GuardedApplication,
)

clean_spool()  # spool files of requests that died with an earlier server
application = GuardedApplication(
    GatewayASGIHandler(), max_body_bytes=lambda: gateway().max_upload_bytes + BODY_SLACK_BYTES
)
