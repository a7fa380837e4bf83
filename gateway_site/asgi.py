"""The ASGI entry point ``make run`` serves (uvicorn; see ``serving``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

# Each request's Django code runs on one of a few reused threads
# (``serving.GatewayASGIHandler``), each keeping its database connection.
# A network database's connection is still closed at the end of each
# request: a link that stalls after the kernel acknowledged the data is not
# cut by the socket timeouts, and a new connection meets the connect timeout
# (a fast 503) instead of hanging on the old one. SQLite has no link.
for _database in settings.DATABASES.values():
    if not _database["ENGINE"].endswith("sqlite3"):
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
