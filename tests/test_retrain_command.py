"""``manage.py ftproxy_retrain``: a ledger job re-created on another entry,
its files copied there, owned by the same key, linked to the job it came from."""

from __future__ import annotations

import io
import json

import pytest
import responses
from django.core.management import CommandError, call_command

from ftproxy.models import File, FineTuningJob
from tests.conftest import TRAINING
from tests.factories import ledger_job
from tests.services import cross_provider
from tests.services.cross_provider import GEMINI, create, upload

pytestmark = pytest.mark.django_db

upstreams, alice = cross_provider.upstreams, cross_provider.alice  # fixtures


def retrain(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("ftproxy_retrain", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def openai_job(upstreams, alice) -> FineTuningJob:
    file_id = upload(alice)
    response = create(
        alice,
        "openai",
        model="gpt-4o-mini-2024-07-18",
        training_file=file_id,
        validation_file=file_id,
        hyperparameters={"n_epochs": 2},
        suffix="bot",
        metadata={"team": "search"},
    )
    assert response.status_code == 200, response.content
    return FineTuningJob.objects.get(public_id=response.json()["id"])


def test_retrain_on_vertex_copies_the_files_and_carries_the_request_over(upstreams, openai_job):
    lines = retrain(openai_job.public_id, "--provider", "vertex_ai", "--model", GEMINI)
    new = FineTuningJob.objects.get(public_id=lines[-1])
    assert lines[-1].startswith("ftjob-") and " " not in lines[-1]
    assert (new.retrained_from, new.owner, new.provider) == (
        openai_job,
        openai_job.owner,
        "vertex_ai",
    )
    assert (new.training_file, new.validation_file) == (openai_job.training_file,) * 2
    assert list(openai_job.retrains.all()) == [new]
    (body,) = upstreams.tuning_jobs
    copy = File.objects.get(copied_from__public_id=openai_job.training_file)
    assert body["baseModel"] == GEMINI
    assert body["supervisedTuningSpec"]["trainingDatasetUri"] == copy.remote_id
    assert body["supervisedTuningSpec"]["validationDatasetUri"] == copy.remote_id
    # What the user asked for (2), not what OpenAI resolved and answered (3).
    assert body["supervisedTuningSpec"]["hyperParameters"] == {"epochCount": 2}
    assert body["tunedModelDisplayName"] == "bot"
    # The user's metadata as labels, beside the gateway's own id.
    assert body["labels"] == {"team": "search", "ftproxy_job_id": new.public_id}
    assert copy.owner == openai_job.owner


def test_retrain_on_azure_keeps_the_model_and_takes_a_new_suffix(upstreams, openai_job):
    lines = retrain(openai_job.public_id, "--provider", "azure", "--suffix", "bot-2")
    assert lines[-1] == "ftjob-az-1"
    assert "Retrained" in lines[0] and "azure" in lines[0]
    (body,) = upstreams.azure_jobs
    assert body["model"] == "gpt-4o-mini-2024-07-18"
    assert (body["suffix"], body["training_file"]) == ("bot-2", "file-az-1")
    assert body["metadata"]["team"] == "search"
    assert body["metadata"]["ftproxy_job_id"].startswith("ftjob-")  # the gateway's own id
    assert FineTuningJob.objects.get(public_id="ftjob-az-1").retrained_from == openai_job


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--provider", "vertex_ai"], "vertex_ai trains other models"),
        (["--provider", "openai"], "already on 'openai'"),
        (["--provider", "nowhere"], "'nowhere' is not configured"),
    ],
)
def test_retrain_refuses_what_it_cannot_do_before_anything_moves(upstreams, openai_job, args, says):
    with pytest.raises(CommandError, match=says):
        retrain(openai_job.public_id, *args)
    assert upstreams.downloads() == 0
    assert FineTuningJob.objects.count() == 1


def test_retrain_refuses_a_method_the_target_does_not_have(upstreams, alice):
    file_id = upload(alice)
    dpo = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    response = create(
        alice, "openai", model="gpt-4o-mini-2024-07-18", training_file=file_id, method=dpo
    )
    assert response.status_code == 200, response.content
    with pytest.raises(CommandError, match="Fine-tuning method 'dpo' is not supported by azure"):
        retrain(response.json()["id"], "--provider", "azure-dated")
    assert upstreams.downloads() == 0 and upstreams.azure_jobs == []
    assert FineTuningJob.objects.count() == 1


def test_retrain_of_an_unknown_job_fails_clearly(upstreams):
    with pytest.raises(CommandError, match="No such fine-tuning job: ftjob-nope"):
        retrain("ftjob-nope", "--provider", "azure")


def test_retrain_refuses_a_file_the_ledger_does_not_hold(upstreams):
    job = ledger_job("ftjob-adopted", "succeeded", training_file="file-never-seen")
    with pytest.raises(CommandError, match="file-never-seen of ftjob-adopted is not a file"):
        retrain(job.public_id, "--provider", "vertex_ai", "--model", GEMINI)
    assert FineTuningJob.objects.count() == 1


def test_retrain_refuses_a_hyperparameter_only_the_source_kind_knows(upstreams):
    job = ledger_job(
        "ftjob-vertex",
        "succeeded",
        provider="vertex_ai",
        model=GEMINI,
        requested={"hyperparameters": {"n_epochs": 2, "adapter_size": 4}},
    )
    with pytest.raises(CommandError, match="hyperparameters.adapter_size exists only on vertex_ai"):
        retrain(job.public_id, "--provider", "azure", "--model", "gpt-4o-mini-2024-07-18")
    assert FineTuningJob.objects.count() == 1


def _azure(name: str) -> dict:
    return {
        "custom_llm_provider": "azure",
        "name": name,
        "api_key": f"{name}-key",
        "api_base": f"https://{name}.openai.azure.com",
        "api_version": "v1",
        "max_retries": 0,
    }


@pytest.fixture
def tiered_azure_job(gateway_config, make_key):
    """A job asked for on Azure with a training tier, and a second Azure
    entry (and an OpenAI one) to retrain it on."""
    openai = {"custom_llm_provider": "openai", "api_key": "sk-up", "max_retries": 0}
    openai["api_base"] = cross_provider.OPENAI
    gateway_config(
        {
            "finetune_settings": [_azure("azure"), _azure("azure-eu"), openai],
            "files_settings": [_azure("azure"), openai],
        }
    )
    from ftproxy.models import ApiKey
    from tests.factories import ledger_file

    make_key("alice")
    owner = ApiKey.objects.get(name="alice")
    ledger_file("file-az", provider="azure", owner=owner)
    return ledger_job(
        "ftjob-tiered",
        "succeeded",
        provider="azure",
        owner=owner,
        training_file="file-az",
        training_type="globalStandard",
    )


def _job_answer(request):
    body = json.loads(request.body)
    answer = {
        "id": "ftjob-new",
        "object": "fine_tuning.job",
        "created_at": 1_700_000_100,
        "model": body["model"],
        "status": "pending",
        "training_file": body["training_file"],
        "hyperparameters": {},
        "result_files": [],
    }
    return 200, {}, json.dumps(answer)


def test_retrain_on_another_azure_entry_keeps_the_training_tier(tiered_azure_job):
    url = "https://azure-eu.openai.azure.com/openai/v1/fine_tuning/jobs"
    with responses.RequestsMock() as rsps:
        created = rsps.add_callback(responses.POST, url, callback=_job_answer)
        lines = retrain(tiered_azure_job.public_id, "--provider", "azure-eu")
    assert json.loads(created.calls[0].request.body)["trainingType"] == "GlobalStandard"
    new = FineTuningJob.objects.get(public_id=lines[-1])
    assert (new.training_type, new.retrained_from) == ("globalStandard", tiered_azure_job)


def test_retrain_off_azure_leaves_the_tier_behind_and_says_so(tiered_azure_job):
    url = f"{cross_provider.OPENAI}/fine_tuning/jobs"
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            "https://azure.openai.azure.com/openai/v1/files/file-az/content",
            body=TRAINING,
        )
        uploaded = {"id": "file-oa", "object": "file", "status": "processed"}
        rsps.add(responses.POST, f"{cross_provider.OPENAI}/files", json=uploaded)
        created = rsps.add_callback(responses.POST, url, callback=_job_answer)
        lines = retrain(tiered_azure_job.public_id, "--provider", "openai")
    assert "trainingType" not in json.loads(created.calls[0].request.body)
    assert "training tier 'globalStandard'" in lines[0] and "openai" in lines[0]
    assert lines[-1] == "ftjob-new"


def test_retrain_refuses_a_job_that_continued_from_an_azure_fine_tuned_model(upstreams):
    from tests.factories import ledger_file

    ledger_file("file-train", provider="azure")
    job = ledger_job(
        "ftjob-az-cont",
        "succeeded",
        provider="azure",
        model="gpt-4o-mini-2024-07-18.ft-0123456789abcdef",
    )
    with pytest.raises(CommandError, match="continued from the fine-tuned model"):
        retrain(job.public_id, "--provider", "openai")
    assert FineTuningJob.objects.count() == 1 and upstreams.openai_jobs == []


def test_retrain_on_vertex_may_continue_from_a_tuned_model_of_the_same_key(upstreams, openai_job):
    from tests.providers.vertex.helpers import PROJECT, tuning_job

    base = f"projects/{PROJECT}/locations/us-central1"
    tuned = {"model": f"{base}/models/7", "endpoint": f"{base}/endpoints/70"}
    ledger_job(
        "ftjob-earlier",
        "succeeded",
        provider="vertex_ai",
        model=GEMINI,
        owner=openai_job.owner,
        fine_tuned_model=tuned["endpoint"],
        provider_payload=tuning_job("JOB_STATE_SUCCEEDED", tunedModel=tuned),
    )
    lines = retrain(openai_job.public_id, "--provider", "vertex_ai", "--model", tuned["endpoint"])
    (body,) = upstreams.tuning_jobs
    assert body["preTunedModel"] == {"tunedModelName": tuned["model"]}
    assert "baseModel" not in body
    assert FineTuningJob.objects.get(public_id=lines[-1]).retrained_from == openai_job


def test_a_retrain_the_target_fails_still_records_which_job_it_came_from(upstreams, openai_job):
    upstreams.rsps.replace(
        responses.POST, f"{cross_provider.AZURE}/fine_tuning/jobs", status=500, json={}
    )
    with pytest.raises(CommandError):
        retrain(openai_job.public_id, "--provider", "azure")
    failed = FineTuningJob.objects.exclude(pk=openai_job.pk).get()
    # A 500 may have created it: the row waits for the reconciler (pending).
    assert failed.ledger_state == "pending"
    assert failed.retrained_from == openai_job  # the operator sees what was attempted


def test_retrain_refuses_a_job_of_a_revoked_key(upstreams, openai_job):
    openai_job.owner.revoke()
    with pytest.raises(CommandError, match="revoked"):
        retrain(openai_job.public_id, "--provider", "azure")
    assert FineTuningJob.objects.count() == 1 and upstreams.downloads() == 0


def test_retrain_leaves_out_an_auto_hyperparameter_only_the_source_kind_knows(upstreams):
    from tests.factories import ledger_file
    from tests.providers.vertex.helpers import GCS

    ledger_file("file-v", provider="vertex_ai", remote_id="gs://b/ftproxy/x/gemini/t.jsonl")
    job = ledger_job(
        "ftjob-vertex-auto",
        "succeeded",
        provider="vertex_ai",
        model=GEMINI,
        training_file="file-v",
        requested={
            "hyperparameters": {"n_epochs": 2, "adapter_size": "auto"},
            "method": {
                "type": "supervised",
                "supervised": {"hyperparameters": {"adapter_size": "auto"}},
            },
        },
    )
    upstreams.rsps.add(
        responses.GET,
        f"{GCS}/storage/v1/b/b/o/ftproxy%2Fx%2Fgemini%2Ft.jsonl",
        body=TRAINING,
    )
    retrain(job.public_id, "--provider", "azure", "--model", "gpt-4o-mini-2024-07-18")
    (body,) = upstreams.azure_jobs
    assert body["hyperparameters"] == {"n_epochs": 2}  # "auto" is what leaving it out means
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {}}}
