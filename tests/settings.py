"""Test settings: the site's settings with a test config and master key."""

import os
from pathlib import Path

os.environ.setdefault("FTPROXY_MASTER_KEY", "sk-test-master")
os.environ["FTPROXY_CONFIG"] = str(Path(__file__).with_name("config.yaml"))

from gateway_site.settings import *  # noqa: E402,F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["loggers"]["ftproxy"]["level"] = "WARNING"  # noqa: F405
