"""The job admin's "Retrain on another provider…" action: its form, its
result, and the links between a job and its retrain."""

from __future__ import annotations

import html

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from ftproxy.models import File, FineTuningJob
from tests.services import cross_provider
from tests.services.cross_provider import GEMINI, create, upload

pytestmark = pytest.mark.django_db

upstreams, alice = cross_provider.upstreams, cross_provider.alice  # fixtures
CHANGELIST = reverse("admin:ftproxy_finetuningjob_changelist")


def change_page(job: FineTuningJob) -> str:
    return reverse("admin:ftproxy_finetuningjob_change", args=[job.pk])


@pytest.fixture
def job(upstreams, alice) -> FineTuningJob:
    file_id = upload(alice)
    response = create(alice, "openai", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 200, response.content
    return FineTuningJob.objects.get(public_id=response.json()["id"])


def test_the_action_asks_for_entry_and_model_then_retrains_and_links_both_ways(
    admin_client, upstreams, job
):
    selected = {"action": "retrain_selected", ACTION_CHECKBOX_NAME: [job.pk]}
    form = admin_client.post(CHANGELIST, selected)
    assert form.status_code == 200
    page = form.content.decode()
    assert "Retrain on another provider" in page
    assert job.public_id in page
    assert '<option value="vertex_ai">vertex_ai (vertex_ai)</option>' in page
    assert 'name="model"' in page and 'name="suffix"' in page
    assert not FineTuningJob.objects.filter(retrained_from=job).exists()

    done = admin_client.post(
        CHANGELIST,
        {**selected, "apply": "Retrain", "provider": "vertex_ai", "model": GEMINI, "suffix": ""},
        follow=True,
    )
    assert done.status_code == 200
    new = FineTuningJob.objects.get(retrained_from=job)
    assert (new.provider, new.model, new.owner) == ("vertex_ai", GEMINI, job.owner)
    (message,) = [str(m) for m in get_messages(done.wsgi_request)]
    assert message.startswith(f"Retrained {job.public_id} on vertex_ai as ")
    assert new.public_id in message
    assert upstreams.tuning_jobs[0]["baseModel"] == GEMINI

    old_page = admin_client.get(change_page(job)).content.decode()
    assert f'href="{change_page(new)}">{new.public_id}</a>' in old_page
    new_page = admin_client.get(change_page(new)).content.decode()
    assert f'href="{change_page(job)}">{job.public_id}</a>' in new_page


def test_a_refused_retrain_is_an_error_message_and_creates_nothing(admin_client, upstreams, job):
    done = admin_client.post(
        CHANGELIST,
        {
            "action": "retrain_selected",
            ACTION_CHECKBOX_NAME: [job.pk],
            "apply": "Retrain",
            "provider": "vertex_ai",
            "model": "",
        },
        follow=True,
    )
    (message,) = [str(m) for m in get_messages(done.wsgi_request)]
    assert message.startswith(f"Could not retrain {job.public_id}: ")
    assert "vertex_ai trains other models" in message
    assert FineTuningJob.objects.count() == 1 and upstreams.downloads() == 0


def test_a_copys_page_links_to_its_original(admin_client, upstreams, job):
    admin_client.post(
        CHANGELIST,
        {
            "action": "retrain_selected",
            ACTION_CHECKBOX_NAME: [job.pk],
            "apply": "Retrain",
            "provider": "azure",
        },
    )
    copy = File.objects.get(copied_from__isnull=False)
    page = admin_client.get(reverse("admin:ftproxy_file_change", args=[copy.pk])).content.decode()
    original = reverse("admin:ftproxy_file_change", args=[copy.copied_from.pk])
    assert f'href="{original}"' in page


def test_the_message_says_when_the_training_tier_stays_behind(admin_client, upstreams, alice):
    from ftproxy.models import ApiKey
    from tests.factories import ledger_job

    file_id = upload(alice)
    tiered = ledger_job(
        "ftjob-tiered",
        "succeeded",
        provider="azure",
        owner=ApiKey.objects.get(name="alice"),
        training_file=file_id,
        training_type="developerTier",
    )
    done = admin_client.post(
        CHANGELIST,
        {
            "action": "retrain_selected",
            ACTION_CHECKBOX_NAME: [tiered.pk],
            "apply": "Retrain",
            "provider": "vertex_ai",
            "model": GEMINI,
        },
        follow=True,
    )
    (message,) = [str(m) for m in get_messages(done.wsgi_request)]
    assert message.startswith(f"Retrained {tiered.public_id} on vertex_ai as ")
    left = "training tier 'developerTier' left behind: 'vertex_ai' has no training tiers"
    assert left in html.unescape(message)  # the message is HTML
    assert "trainingType" not in upstreams.tuning_jobs[0]
