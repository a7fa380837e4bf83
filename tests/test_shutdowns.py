"""``ftproxy_shutdowns`` and the ``fine_tuning.model.shutdown_approaching``
webhook: a sandbox job's model whose base model has a shutdown date in the
config, its job, data and retrain command; one event per threshold."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command

from ftproxy.models import ApiKey, FineTuningJob, WebhookEvent
from ftproxy.services.jobs import shutdowns
from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db

TODAY = shutdowns.today()
SHUTDOWN = TODAY + datetime.timedelta(days=20)


@pytest.fixture
def config(gateway_config, sandbox_entry):
    return gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 0}],
            "files_settings": [sandbox_entry],
            "ftproxy_settings": {"model_shutdowns": {"gpt-4o-mini": SHUTDOWN.isoformat()}},
        }
    )


@pytest.fixture
def trained(config, api_as):
    """A key with a webhook receiver, and its sandbox job's model."""
    key, raw = ApiKey.create_key("alice", webhook_url="http://127.0.0.1:1/hook")
    user = api_as(raw)
    file_id = user.upload(TRAINING, filename="support.jsonl").json()["id"]
    job_id = user.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": file_id}
    ).json()["id"]
    job = user.get(f"/v1/fine_tuning/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["fine_tuned_model"]
    WebhookEvent.objects.all().delete()  # the job's own status events
    return FineTuningJob.objects.get(public_id=job_id), file_id


def run(*args: str) -> str:
    out = StringIO()
    call_command("ftproxy_shutdowns", *args, stdout=out)
    return out.getvalue()


def test_the_command_lists_the_model_its_data_and_how_to_retrain_it(trained, master):
    job, file_id = trained
    other = master.upload(TRAINING).json()["id"]
    FineTuningJob.objects.create(  # a model with no shutdown date is not listed
        public_id="ftjob-undated",
        provider="sandbox",
        provider_kind="sandbox",
        model="my-own-base",
        status="succeeded",
        fine_tuned_model="ft:my-own-base:x",
        training_file=other,
        created_at=1,
        ledger_state="ok",
    )
    out = run()
    assert job.fine_tuned_model in out and "ft:my-own-base:x" not in out
    assert f"{SHUTDOWN.isoformat()} (20 day(s))" in out
    assert f"job {job.public_id} on sandbox, base gpt-4o-mini, key alice" in out
    assert f"data {file_id} (support.jsonl)" in out
    assert f"python manage.py ftproxy_retrain {job.public_id} --provider <entry>" in out
    assert out.strip().endswith("1 model(s) shut down within 30 day(s).")
    assert "0 model(s)" in run("--days", "19")


def test_a_deleted_model_is_not_listed(trained, api_as):
    job, _ = trained
    FineTuningJob.objects.filter(pk=job.pk).update(model_deleted_at=job.created)
    assert "0 model(s)" in run()


@pytest.mark.parametrize(
    "days_left, expected",
    [(40, None), (31, None), (30, 30), (20, 30), (8, 30), (7, 7), (2, 7), (1, 1), (0, 1)],
)
def test_the_nearest_threshold_is_the_one_sent(days_left, expected):
    assert shutdowns.threshold_of(days_left) == expected


def test_the_webhook_fires_once_per_threshold(trained):
    job, _ = trained
    sent = []
    for days_before in (40, 30, 30, 25, 7, 6, 7, 1, 1, 0, -1):
        on = SHUTDOWN - datetime.timedelta(days=days_before)
        sent.append(shutdowns.notify_approaching(on=on))
    assert sent == [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0]
    events = WebhookEvent.objects.filter(event_type=shutdowns.EVENT_TYPE).order_by("id")
    assert [e.payload["data"]["threshold_days"] for e in events] == [30, 7, 1]
    first = events[0]
    assert first.key.name == "alice" and first.job_id == job.pk
    assert first.payload["type"] == "fine_tuning.model.shutdown_approaching"
    assert first.payload["data"] == {
        "id": job.public_id,
        "model": job.fine_tuned_model,
        "shutdown_date": SHUTDOWN.isoformat(),
        "days_left": 30,
        "threshold_days": 30,
    }


def test_first_seen_inside_seven_days_sends_only_the_seven_day_event(trained):
    shutdowns.notify_approaching(on=SHUTDOWN - datetime.timedelta(days=5))
    (event,) = WebhookEvent.objects.filter(event_type=shutdowns.EVENT_TYPE)
    assert event.payload["data"]["threshold_days"] == 7


def test_no_receiver_no_event(trained):
    job, _ = trained
    ApiKey.objects.filter(pk=job.owner_id).update(webhook_url="", webhook_secret="")
    assert shutdowns.notify_approaching(on=SHUTDOWN - datetime.timedelta(days=1)) == 0


def test_the_sync_round_and_notify_queue_what_is_due(trained, config):
    call_command(
        "ftproxy_sync_jobs", stdout=StringIO(), stderr=StringIO()
    )  # 20 days out: the 30-day notice
    (event,) = WebhookEvent.objects.filter(event_type=shutdowns.EVENT_TYPE)
    assert event.payload["data"]["threshold_days"] == 30
    assert "Queued 0 shutdown notice(s)." in run("--notify")


def test_the_admin_page_lists_the_same_models(trained, admin_client):
    job, _ = trained
    page = admin_client.get("/admin/ftproxy/modelshutdown/").content.decode()
    assert job.fine_tuned_model in page and SHUTDOWN.isoformat() in page
    assert f"ftproxy_retrain {job.public_id} --provider &lt;entry&gt;" in page
    assert "support.jsonl" in page and "alice" in page
    fewer = admin_client.get("/admin/ftproxy/modelshutdown/", {"days": "5"}).content.decode()
    assert job.fine_tuned_model not in fewer and "No fine-tuned model shuts down" in fewer


def test_the_admin_page_sends_a_query_it_cannot_apply_back_to_the_plain_list(admin_client):
    page = "/admin/ftproxy/modelshutdown/"
    for query in ("days=soon", "status=x", "days=%C2%B2"):
        response = admin_client.get(f"{page}?{query}")
        assert (response.status_code, response["Location"]) == (302, f"{page}?e=1")
    assert admin_client.get(f"{page}?e=1").status_code == 200
