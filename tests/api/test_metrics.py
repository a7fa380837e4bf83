"""GET /metrics: Prometheus text for the master key, values that move with
the calls, and the multiprocess mode that adds up several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from ftproxy.services.jobs.sync import sync_jobs
from tests.conftest import MASTER_KEY, TRAINING
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

BASE = "https://api.openai.test/v1"


def scrape(master) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    response = master.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_master_key(api_as, make_key, sandbox):
    anonymous = api_as(None).get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "invalid_api_key"
    user = api_as(make_key("alice")).get("/metrics")
    assert user.status_code == 401
    assert "master key" in user.json()["error"]["message"]
    assert api_as("sk-wrong").get("/metrics").status_code == 401


def test_request_counters_and_durations_move_after_calls(master, sandbox):
    before = scrape(master)
    assert master.upload(TRAINING).status_code == 200
    assert master.get("/v1/files/file-nope").status_code == 404
    after = scrape(master)
    created = {"action": "files.create", "provider": "sandbox", "status": "200"}
    assert value(after, "ftproxy_requests_total", **created) == (
        value(before, "ftproxy_requests_total", **created) + 1
    )
    missing = {"action": "files.retrieve", "provider": "none", "status": "404"}
    assert value(after, "ftproxy_requests_total", **missing) == (
        value(before, "ftproxy_requests_total", **missing) + 1
    )
    count = "ftproxy_request_duration_seconds_count"
    assert value(after, count, action="files.create") == (
        value(before, count, action="files.create") + 1
    )
    assert value(after, "ftproxy_request_duration_seconds_bucket", action="files.create", le="+Inf")
    # Scrapes themselves are not API calls: not counted.
    total = lambda samples: sum(  # noqa: E731
        v for (name, _), v in samples.items() if name == "ftproxy_requests_total"
    )
    assert total(scrape(master)) == total(after)


def test_jobs_gauge_counts_the_ledger_by_provider_and_status(master, sandbox):
    ledger_job("ftjob-a", "running")
    ledger_job("ftjob-b", "running")
    ledger_job("ftjob-c", "failed", provider="azure")
    samples = scrape(master)
    assert value(samples, "ftproxy_jobs", provider="openai", status="running") == 2
    assert value(samples, "ftproxy_jobs", provider="azure", status="failed") == 1


def test_sync_rounds_and_failures_are_counted(master, sandbox):
    before = scrape(master)
    ledger_job("ftjob-gone", "running", provider="sandbox")  # unknown to the sandbox: fails
    result = sync_jobs()
    assert result.failed == 1
    after = scrape(master)
    rounds = "ftproxy_sync_rounds_total"
    assert value(after, rounds) == value(before, rounds) + 1
    assert value(after, "ftproxy_sync_failures_total") == (
        value(before, "ftproxy_sync_failures_total") + 1
    )
    assert value(after, "ftproxy_sync_last_round_timestamp_seconds") > 0


def test_upstream_requests_are_counted_by_provider_and_status(master, gateway_config):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": BASE}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    ledger_job("ftjob-up", "running")
    before = scrape(master)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/fine_tuning/jobs/ftjob-up", status=404, json={"error": {"message": "no"}})
        assert master.get("/v1/fine_tuning/jobs/ftjob-up").status_code == 404
    after = scrape(master)
    name = "ftproxy_upstream_requests_total"
    assert value(after, name, provider="openai", status="404") == (
        value(before, name, provider="openai", status="404") + 1
    )
    count = "ftproxy_upstream_duration_seconds_count"
    assert value(after, count, provider="openai") == value(before, count, provider="openai") + 1


def test_budget_and_webhook_counters_are_defined_for_their_services():
    from ftproxy import metrics

    metrics.count_budget_refusal("budget_exceeded")
    metrics.count_webhook_delivery("delivered")
    text = metrics.render().decode()
    assert 'ftproxy_budget_refusals_total{code="budget_exceeded"}' in text
    assert 'ftproxy_webhook_deliveries_total{outcome="delivered"}' in text


WORKER = """
import sys
from ftproxy import metrics
metrics.observe_request("files.list", "sandbox", 200, 0.01)
metrics.observe_sync_round(failed=2)
"""


def test_multiprocess_mode_adds_up_the_processes(tmp_path: Path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    root = Path(__file__).resolve().parents[2]
    for _ in range(2):  # two "workers", each its own process
        subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=root, check=True)
    render = "from ftproxy import metrics; print(metrics.render().decode())"
    text = subprocess.run(
        [sys.executable, "-c", render], env=env, cwd=root, check=True, capture_output=True
    ).stdout.decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = {"action": "files.list", "provider": "sandbox", "status": "200"}
    assert value(samples, "ftproxy_requests_total", **labels) == 2
    assert value(samples, "ftproxy_sync_rounds_total") == 2
    assert value(samples, "ftproxy_sync_failures_total") == 4


def test_metrics_scrape_is_not_audited(master, sandbox):
    from ftproxy.models import AuditEntry

    master.get("/metrics")
    assert not AuditEntry.objects.filter(path="/metrics").exists()
    assert MASTER_KEY not in scrape(master).__repr__()
