"""Django settings for the gateway site: a thin project around ``ftproxy``.

Environment:
- FTPROXY_CONFIG: the YAML config (default config/example.yaml)
- DATABASE_URL: database (default SQLite at var/ftproxy.sqlite3, WAL mode)
- DJANGO_SECRET_KEY, DJANGO_DEBUG, DJANGO_ALLOWED_HOSTS, DJANGO_TIME_ZONE
"""

import os
from pathlib import Path

import dj_database_url

from ftproxy.api.schema_settings import SCHEMA_SETTINGS
from ftproxy.config import load_config
from gateway_site.database import BoundedConnection
from gateway_site.secret_key import load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FTPROXY_VAR_DIR", BASE_DIR / "var"))

VAR_DIR.mkdir(parents=True, exist_ok=True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or load_or_create(VAR_DIR)
DEBUG = os.environ.get("DJANGO_DEBUG", "") in ("1", "true", "True")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
] + ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ftproxy",
]

MIDDLEWARE = [
    "ftproxy.api.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ftproxy.api.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway_site.urls"
WSGI_APPLICATION = "gateway_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ftproxy.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers and one writer work at once; IMMEDIATE avoids
    # "database is locked" on lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# Behind TLS (FTPROXY_HTTPS=1, see docs/deployment.md): HTTPS only, secure
# cookies, HSTS; `manage.py check --deploy` is clean. Health stays on plain
# HTTP for load balancers.
if os.environ.get("FTPROXY_HTTPS", "") in ("1", "true", "True"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("FTPROXY_HSTS_SECONDS", 31_536_000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A dead or frozen database link fails a request within bounds instead
    # of hanging it: libpq's connect options and a statement timeout, and
    # Django's connection pool (psycopg_pool), which checks a connection
    # before it hands it out; ``gateway_site.database`` bounds each wait for
    # an answer where libpq cannot (a link that went silent).
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options.setdefault("connect_timeout", int(os.environ.get("FTPROXY_DB_CONNECT_TIMEOUT", 5)))
    _db_options.setdefault("keepalives", 1)
    _db_options.setdefault("keepalives_idle", 30)
    _db_options.setdefault("keepalives_interval", 10)
    _db_options.setdefault("keepalives_count", 3)
    _db_options.setdefault(
        "tcp_user_timeout", int(os.environ.get("FTPROXY_DB_TCP_USER_TIMEOUT_MS", 30_000))
    )
    _statement_timeout_ms = int(os.environ.get("FTPROXY_DB_STATEMENT_TIMEOUT_MS", 30_000))
    _db_options["options"] = (
        _db_options.get("options", "") + f" -c statement_timeout={_statement_timeout_ms}"
    ).strip()
    _db_options.setdefault(
        "pool",
        {
            "min_size": int(os.environ.get("FTPROXY_DB_POOL_MIN", 2)),
            # at least the request threads of a worker process (FTPROXY_THREADS)
            "max_size": int(os.environ.get("FTPROXY_DB_POOL_MAX", 16)),
            # how long a request waits for a connection before its 503
            "timeout": float(os.environ.get("FTPROXY_DB_POOL_TIMEOUT_SECONDS", 5)),
            "connection_class": BoundedConnection,
        },
    )
    # The pool keeps the connections (Django hands each back after a
    # request) and checks each with a round trip before it hands it out, so a
    # database restart costs no request an error (FTPROXY_DB_POOL_CHECK=0
    # saves the round trip: then one request per pooled connection fails
    # after a restart).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("FTPROXY_DB_POOL_CHECK", "1") != "0"
    MIDDLEWARE.insert(0, "gateway_site.database.BoundedQueries")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")  # how the admin shows times
USE_I18N = True
USE_TZ = True

# Management commands run without the master key; the server refuses to
# start without one the config asks for (gateway_site.wsgi, .serve).
FTPROXY = load_config(
    os.environ.get("FTPROXY_CONFIG", BASE_DIR / "config" / "example.yaml"),
    master_key_optional=True,
)

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # also creates VAR_DIR for SQLite
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Upload parts wait in this storage until their upload ends: with several
# hosts, one they all share (ftproxy_settings.upload_storage, e.g. S3).
_upload_storage = FTPROXY.get("upload_storage")
STORAGES["ftproxy-uploads"] = (
    {"BACKEND": _upload_storage["backend"], "OPTIONS": _upload_storage["options"]}
    if _upload_storage
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "uploads"},
    }
)

# Debug pages and error reports hide every credential in settings.
DEFAULT_EXCEPTION_REPORTER_FILTER = "ftproxy.reporting.SecretsReporterFilter"

# A new API key is shown once in an admin message: keep it server-side, not
# in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Uploads above 2.5 MB are spooled to disk by Django, never held in memory,
# in a directory of the gateway's own, so files left by killed workers are
# found and removed (at start-up and by ftproxy_sync_jobs).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = VAR_DIR / "spool"
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# ftproxy's schema views apply their own settings; this site's only API is
# ftproxy's, so drf-spectacular's deploy check uses the same ones.
SPECTACULAR_SETTINGS = SCHEMA_SETTINGS


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"unhandled": {"()": "ftproxy.logs.UnhandledExceptions"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # One traceback per unhandled exception (a real 500), on stderr.
        "errors": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["unhandled"],
        },
    },
    "loggers": {
        "ftproxy": {"handlers": ["console"], "level": os.environ.get("FTPROXY_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["errors"], "level": "ERROR"},
    },
}
