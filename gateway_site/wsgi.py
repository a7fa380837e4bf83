"""The WSGI entry point ``make run`` serves (gunicorn; see ``serve``)."""

import os

from django.core.wsgi import get_wsgi_application

from gateway_site.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
application = ChunkedBodies(get_wsgi_application())

from ftproxy.services.files.spool import clean_spool  # noqa: E402  (after Django is set up)

clean_spool()  # spool files of requests that died with an earlier server
