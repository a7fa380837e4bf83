"""Secrets never reach a client, the ledger, the admin or a log: upstream
texts are redacted in every field, debug pages hide ``Authorization``; the
site gets a generated ``SECRET_KEY``, a clean ``check --deploy`` and a CSP
on its HTML pages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from ftproxy.models import AuditEntry, FineTuningJob
from ftproxy.reporting import SecretsReporterFilter
from gateway_site.secret_key import load_or_create
from tests.conftest import MASTER_KEY

BASE = "https://api.openai.test/v1"
UPSTREAM_KEY = "sk-upstream-very-secret-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def openai_entry(gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": UPSTREAM_KEY, "api_base": BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})


@pytest.mark.django_db
def test_an_upstream_error_quoting_the_key_in_any_field_is_redacted(openai_entry, master):
    error = {
        "message": f"bad key {UPSTREAM_KEY}",
        "type": f"type {UPSTREAM_KEY}",
        "param": f"param {UPSTREAM_KEY}",
        "code": f"code-{UPSTREAM_KEY}",
    }
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{BASE}/fine_tuning/jobs", status=400, json={"error": error})
        response = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "f"})
    assert response.status_code == 400
    stored = json.dumps(list(FineTuningJob.objects.values()), default=str) + json.dumps(
        list(AuditEntry.objects.values()), default=str
    )
    assert UPSTREAM_KEY not in response.content.decode() + stored
    assert response.json()["error"]["param"] == "param [redacted]"


@pytest.mark.django_db
def test_a_successful_answer_quoting_the_key_is_redacted(openai_entry, master):
    job = {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini",
        "status": "queued",
        "created_at": 1,
        "training_file": "file-x",
        "error": None,
        "suffix": None,
        # A field the gateway passes on as the provider sent it.
        "user_provided_suffix": f"created with {UPSTREAM_KEY}",
    }
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, f"{BASE}/fine_tuning/jobs", json=job)
        response = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "f"})
    assert response.status_code == 200
    stored = json.dumps(list(FineTuningJob.objects.values()), default=str)
    assert UPSTREAM_KEY not in response.content.decode() + stored
    assert response.json()["user_provided_suffix"] == "created with [redacted]"


def escaped(text: str) -> str:
    """``text`` as a JSON string with every letter of the key \\u-escaped."""
    return "".join(f"\\u{ord(c):04x}" if c.isalpha() else c for c in text)


def job_answer(suffix_json: str) -> str:
    """A job create's raw JSON answer whose ``user_provided_suffix`` is the
    raw JSON string ``suffix_json``."""
    job = {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "model": "gpt-4o-mini",
        "status": "queued",
        "created_at": 1,
        "training_file": "file-x",
        "error": None,
        "user_provided_suffix": "SUFFIX",
    }
    return json.dumps(job).replace('"SUFFIX"', suffix_json)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "suffix_json",
    [
        f'"created with {escaped(UPSTREAM_KEY)}"',  # the key JSON-escaped
        '"created with sk-upstr\\u0065am-very-secret-0123456789"',  # one letter escaped
        '"created with sk-upstream-****0123456789"',  # masked
        '"created with upstream-very-secret-0123456789"',  # without its prefix
        '"created with ...very-secret-0123456789."',  # its tail
    ],
)
def test_a_successful_answer_quoting_the_key_escaped_or_by_its_tail_is_redacted(
    openai_entry, master, suffix_json
):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{BASE}/fine_tuning/jobs",
            body=job_answer(suffix_json),
            content_type="application/json",
        )
        response = master.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": "f"})
    assert response.status_code == 200
    stored = json.dumps(list(FineTuningJob.objects.values()), default=str) + json.dumps(
        list(AuditEntry.objects.values()), default=str
    )
    assert UPSTREAM_KEY[-8:] not in response.content.decode() + stored
    assert response.json()["user_provided_suffix"].startswith("created with [redacted]")


def test_an_error_quoting_the_key_escaped_keeps_no_body():
    from ftproxy.errors import ProviderInputError
    from ftproxy.providers.http import HttpClient

    key = "0123456789abcdef0123456789abcdef"  # Azure-style: no recognisable prefix
    client = HttpClient("azure", "https://up.test", headers={"api-key": key}, max_retries=0)
    message = "no access for " + escaped(key)
    with responses.RequestsMock() as rsps:
        rsps.post(
            "https://up.test/jobs",
            status=400,
            body='{"error": {"message": "' + message + '", "code": "denied"}}',
            content_type="application/json",
        )
        with pytest.raises(ProviderInputError) as caught:
            client.json("POST", "jobs", json_body={})
    assert caught.value.message == "no access for [redacted]"
    assert caught.value.body is None


def test_a_prefixless_key_quoted_masked_is_redacted_from_error_texts():
    from ftproxy.providers.http import redact

    key = "0123456789abcdef0123456789abcdef"  # Azure-style: no recognisable prefix
    assert redact("denied for key ****89abcdef.", [key]) == "denied for key [redacted]."
    assert redact("denied for key 0123...89abcdef", [key]) == "denied for key [redacted]"
    # Short pieces of it are not the key: ordinary text stays.
    assert redact("job 89abcde failed; 0123456789", [key]) == "job 89abcde failed; 0123456789"


def test_debug_pages_and_error_reports_hide_the_authorization_header(settings):
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "ftproxy.reporting.SecretsReporterFilter"
    request = RequestFactory().get("/v1/files", HTTP_AUTHORIZATION=f"Bearer {MASTER_KEY}")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        page = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert MASTER_KEY not in page
    assert "HTTP_AUTHORIZATION" in page  # shown, as hidden
    meta = SecretsReporterFilter().get_safe_request_meta(request)
    assert meta["HTTP_AUTHORIZATION"] == SecretsReporterFilter.cleansed_substitute


def test_a_secret_key_is_generated_once_into_the_var_dir(tmp_path, caplog):
    first = load_or_create(tmp_path)
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50
    assert "generated one into" in caplog.text
    assert load_or_create(tmp_path) == first  # kept across restarts


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = {
        **os.environ,
        "FTPROXY_MASTER_KEY": "sk-prod-master",
        "FTPROXY_VAR_DIR": str(tmp_path),
        "FTPROXY_HTTPS": "1",
        "DJANGO_ALLOWED_HOSTS": "gateway.example.com",
        "DJANGO_DEBUG": "",
    }
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_docs_and_admin_pages_carry_a_content_security_policy(client):
    docs = client.get("/docs")
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "<script>" not in docs.content.decode()  # no inline script to allow
    admin = client.get("/admin/login/")
    assert "default-src 'self'" in admin["Content-Security-Policy"]
    # Both docs pages load only local files; Redoc's bundle would fetch its
    # logo from a CDN, so no policy names a host outside 'self'.
    for page in ("/docs", "/redoc"):
        policy = client.get(page)["Content-Security-Policy"]
        assert "img-src 'self' data:;" in policy, page
        assert "http" not in policy, page
    assert "Content-Security-Policy" not in client.get("/health/liveliness")
