"""The WSGI entry point ``make run`` serves (gunicorn; see ``serve``), and
``runserver``'s: refuses to serve without the master key the config asks
for."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from ftproxy.config import require_master_key
from gateway_site.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
require_master_key(settings.FTPROXY)
application = ChunkedBodies(get_wsgi_application())

from ftproxy.services.files.spool import clean_spool  # noqa: E402  (after Django is set up)

clean_spool()  # spool files of requests that died with an earlier server
