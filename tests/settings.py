"""Test settings: the site's settings with a test config and master key."""

import os
import tempfile
from pathlib import Path

# Runtime data (static files, the default sandbox storage) of a test run
# stays out of the working tree's var/.
os.environ["FTPROXY_VAR_DIR"] = tempfile.mkdtemp(prefix="ftproxy-tests-")
os.environ.setdefault("DJANGO_SECRET_KEY", "ftproxy-tests-secret-key")
os.environ["FTPROXY_CONFIG"] = str(Path(__file__).with_name("config.yaml"))

from gateway_site.settings import *  # noqa: E402,F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["loggers"]["ftproxy"]["level"] = "WARNING"  # noqa: F405
# Live-server and worker threads must not keep connections open past a test
# (PostgreSQL would refuse to drop the test database).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
