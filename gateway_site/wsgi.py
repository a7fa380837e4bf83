"""The WSGI entry point (gunicorn, ``runserver``): refuses to serve without
the master key the config asks for."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from ftproxy.config import require_master_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
require_master_key(settings.FTPROXY)
application = get_wsgi_application()
