"""ftproxy installed into a bare Django project of its own, as a user would.

The project is written into a temporary directory from nothing but the
steps the docs give ("Using ftproxy in your own Django project"): its
``INSTALLED_APPS``, the middleware, ``include("ftproxy.urls")`` and a
``FTPROXY`` dict. It has one DRF view of its own, on DRF's default
settings. ``manage.py migrate`` builds its database (SQLite in the
directory, or a database of its own on the PostgreSQL server that
``DATABASE_URL`` names); ``manage.py runserver`` serves it on a loopback
port, and the ``openai`` SDK drives files and jobs on the sandbox.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import openai
import pytest
import requests

from tests.conftest import TRAINING

ROOT = Path(__file__).resolve().parents[1]
MASTER = "sk-host-master"

SETTINGS = """
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "host-project-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ftproxy",
]
MIDDLEWARE = [
    "ftproxy.api.middleware.RequestContextMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "host.urls"
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
    }}
]
DATABASES = {{"default": {database!r}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"

FTPROXY = {{
    "master_key": "{master}",
    "finetune_settings": [
        {{
            "custom_llm_provider": "sandbox",
            "storage_dir": str(BASE_DIR / "sandbox"),
            "validate_seconds": 0,
            "queue_seconds": 0,
            "run_seconds": 3600,
        }}
    ],
    "files_settings": [
        {{
            "custom_llm_provider": "sandbox",
            "storage_dir": str(BASE_DIR / "sandbox"),
        }}
    ],
}}
"""

URLS = """
from django.urls import include, path

from host.views import WhoAmI

urlpatterns = [
    path("host/whoami", WhoAmI.as_view()),
    path("", include("ftproxy.urls")),
]
"""

VIEWS = """
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    '''The host's own DRF view, on DRF's default settings.'''

    def get(self, request):
        return Response({"user": request.user.get_username(), "auth": repr(request.auth)})
"""

MANAGE = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def database(directory: Path) -> Iterator[dict]:
    """SQLite in ``directory``; or, with ``DATABASE_URL``, a database of its
    own on that server (created here, dropped afterwards)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "host.sqlite3")}
        return
    import psycopg

    config = dj_database_url.parse(url)
    config["ENGINE"] = "django.db.backends.postgresql"  # Django's own backend
    name = f"ftproxy_host_{uuid.uuid4().hex[:12]}"
    admin = {
        "host": config["HOST"],
        "port": config["PORT"] or 5432,
        "user": config["USER"],
        "password": config["PASSWORD"] or None,
        "dbname": config["NAME"],
        "autocommit": True,
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**config, "NAME": name, "CONN_MAX_AGE": 0}
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["PYTHONPATH"] = str(project)
    env.pop("FTPROXY_VAR_DIR", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Host(str):
    """The served project's base URL; ``project`` is its directory."""

    project: Path


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    """The bare project, migrated and served; yields its base URL."""
    project = tmp_path / "project"
    package = project / "host"
    package.mkdir(parents=True)
    with database(tmp_path) as db:
        (package / "__init__.py").write_text("")
        (package / "settings.py").write_text(
            textwrap.dedent(SETTINGS).format(database=db, master=MASTER)
        )
        (package / "urls.py").write_text(textwrap.dedent(URLS))
        (package / "views.py").write_text(textwrap.dedent(VIEWS))
        (project / "manage.py").write_text(textwrap.dedent(MANAGE))
        migrated = manage(project, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        user = manage(
            project,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.create_user('hostuser', password='host-pass')",
        )
        assert user.returncode == 0, user.stderr

        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.pop("FTPROXY_VAR_DIR", None)
        env["PYTHONPATH"] = str(project)
        log = (tmp_path / "server.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = Host(f"http://127.0.0.1:{port}")
        base.project = project
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(requests.ConnectionError):
                    if requests.get(f"{base}/health/liveliness", timeout=2).ok:
                        break
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            log.close()


def test_the_sdk_drives_files_and_jobs_on_a_bare_host_project(host):
    client = openai.OpenAI(api_key=MASTER, base_url=f"{host}/v1", max_retries=0)
    try:
        uploaded = client.files.create(
            file=("train.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune"
        )
        assert (uploaded.bytes, uploaded.purpose) == (len(TRAINING), "fine-tune")
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
        assert job.object == "fine_tuning.job" and job.training_file == uploaded.id
        assert client.fine_tuning.jobs.retrieve(job.id).id == job.id
        assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]
        assert client.files.content(uploaded.id).read() == TRAINING
    finally:
        client.close()

    # Errors are OpenAI's, from the app's own exception handler and keys.
    refused = requests.get(f"{host}/v1/files", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert requests.get(f"{host}/v1/files", timeout=10).status_code == 401
    # An unknown API path is OpenAI's 404, though the host sets no handler404.
    unknown = requests.get(f"{host}/v1/nothing/here", timeout=10)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_url"


def test_the_app_brings_its_health_schema_docs_and_metrics_routes(host):
    assert requests.get(f"{host}/health/readiness", timeout=10).json()["db"] == "connected"
    schema = requests.get(f"{host}/openapi.json", timeout=30)
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/v1/fine_tuning/jobs" in paths and "/host/whoami" not in paths
    assert requests.get(f"{host}/docs", timeout=10).status_code == 200
    assert requests.get(f"{host}/redoc", timeout=10).status_code == 200
    metrics = requests.get(f"{host}/metrics", headers={"Authorization": f"Bearer {MASTER}"})
    assert metrics.status_code == 200 and "ftproxy_jobs" in metrics.text


def test_the_hosts_own_drf_view_keeps_the_hosts_settings(host):
    # DRF's defaults: session and basic authentication, any caller allowed;
    # an ftproxy key means nothing to it.
    anonymous = requests.get(
        f"{host}/host/whoami", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10
    )
    assert anonymous.status_code == 200
    assert anonymous.json() == {"user": "", "auth": "None"}
    basic = requests.get(f"{host}/host/whoami", auth=("hostuser", "host-pass"), timeout=10)
    assert basic.status_code == 200 and basic.json()["user"] == "hostuser"


def test_the_audit_records_the_apps_calls_and_not_the_hosts(host):
    requests.get(f"{host}/host/whoami", timeout=10)
    requests.get(f"{host}/v1/files", headers={"Authorization": f"Bearer {MASTER}"}, timeout=10)
    requests.get(f"{host}/v1/files", timeout=10)
    rows = manage(
        host.project,
        "shell",
        "-c",
        "from ftproxy.models import AuditEntry; "
        "print(sorted((a.path, a.status_code, a.key_prefix) for a in AuditEntry.objects.all()))",
    )
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.strip().splitlines()[-1] == str(
        sorted([("/v1/files", 200, "master"), ("/v1/files", 401, "")])
    )
