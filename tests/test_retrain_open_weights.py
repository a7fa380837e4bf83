"""``ftproxy_retrain`` onto Together AI and Fireworks: a sandbox job moves
to an open-weight model with its files copied, a setting Together cannot
take is refused naming it, and a Together job moves to another Together
entry keeping its base model (which has a "/" in its name)."""

from __future__ import annotations

import io
import json
import re

import pytest
import responses
from django.core.management import CommandError, call_command

from ftproxy.models import File, FineTuningJob
from tests.conftest import TRAINING
from tests.providers.fireworks import upstream as fw
from tests.providers.together import upstream as tg

pytestmark = pytest.mark.django_db

LLAMA = tg.MODEL


@pytest.fixture
def entries(gateway_config, sandbox_entry):
    together = {"custom_llm_provider": "together", "api_key": tg.KEY, "api_base": tg.API}
    together_b = {**together, "name": "together-b"}
    fireworks = {
        "custom_llm_provider": "fireworks",
        "api_key": fw.KEY,
        "account_id": fw.ACCOUNT,
        "api_base": fw.ROOT,
    }
    every = [sandbox_entry, together, together_b, fireworks]
    gateway_config({"finetune_settings": every, "files_settings": [dict(e) for e in every]})


def retrain(*args: str) -> str:
    out = io.StringIO()
    call_command("ftproxy_retrain", *args, stdout=out)
    return out.getvalue().splitlines()[-1]


def sandbox_job(api_as, make_key, **fields) -> FineTuningJob:
    api = api_as(make_key("team"))
    uploaded = api.upload(TRAINING, extra={"custom_llm_provider": "sandbox"})
    assert uploaded.status_code == 200, uploaded.content
    body = {
        "model": "gpt-4o-mini-2024-07-18",
        "training_file": uploaded.json()["id"],
        "custom_llm_provider": "sandbox",
        **fields,
    }
    created = api.post_json("/v1/fine_tuning/jobs", body)
    assert created.status_code == 200, created.content
    return FineTuningJob.objects.get(public_id=created.json()["id"])


def stub_together(rsps) -> list[dict]:
    bodies: list[dict] = []
    files = iter(range(1, 100))

    def announce(request):
        return 302, {"Location": tg.STORAGE, "X-Together-File-Id": f"file-tg-{next(files)}"}, ""

    def create(request):
        bodies.append(json.loads(request.body))
        job_id = f"ft-0000000{len(bodies)}-aaaa-bbbb-cccc-dddddddddddd"
        return 200, {}, json.dumps(tg.job_json("pending", id=job_id, model=bodies[-1]["model"]))

    rsps.add_callback(responses.POST, f"{tg.API}/files", callback=announce)
    rsps.add(responses.PUT, tg.STORAGE)
    rsps.add_callback(
        responses.POST,
        re.compile(re.escape(f"{tg.API}/files/") + r"[^/]+/preprocess"),
        callback=lambda r: (200, {}, json.dumps(tg.file_json(id=r.url.rsplit("/", 2)[-2]))),
    )
    rsps.add_callback(responses.POST, f"{tg.API}/fine-tunes", callback=create)
    return bodies


def test_a_sandbox_job_moves_to_together_with_an_open_weight_model(entries, api_as, make_key):
    job = sandbox_job(api_as, make_key, hyperparameters={"n_epochs": 2}, suffix="bot")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        bodies = stub_together(rsps)
        new_id = retrain(job.public_id, "--provider", "together", "--model", LLAMA)
    new = FineTuningJob.objects.get(public_id=new_id)
    copy = File.objects.get(copied_from__public_id=job.training_file, provider="together")
    assert (new.retrained_from, new.provider, new.training_file) == (
        job,
        "together",
        job.training_file,
    )
    (body,) = bodies
    assert (body["model"], body["training_file"], body["n_epochs"]) == (LLAMA, copy.remote_id, 2)
    assert body["suffix"] == "bot"


def test_a_move_to_together_needs_one_of_its_models(entries, api_as, make_key):
    job = sandbox_job(api_as, make_key)
    with pytest.raises(CommandError, match="together trains other models"):
        retrain(job.public_id, "--provider", "together")


def test_a_multiplier_together_cannot_take_is_refused_naming_it(entries, api_as, make_key):
    job = sandbox_job(api_as, make_key, hyperparameters={"learning_rate_multiplier": 2})
    with responses.RequestsMock(), pytest.raises(CommandError, match="learning_rate_multiplier"):
        retrain(job.public_id, "--provider", "together", "--model", LLAMA)
    assert not FineTuningJob.objects.filter(retrained_from=job).exists()


def test_a_together_job_moves_to_another_together_entry_with_its_model(entries, api_as, make_key):
    job = sandbox_job(api_as, make_key, hyperparameters={"n_epochs": 2})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        bodies = stub_together(rsps)
        first = FineTuningJob.objects.get(
            public_id=retrain(job.public_id, "--provider", "together", "--model", LLAMA)
        )
        second = FineTuningJob.objects.get(
            public_id=retrain(first.public_id, "--provider", "together-b")
        )
    assert second.provider == "together-b" and bodies[1]["model"] == LLAMA


def test_a_sandbox_job_moves_to_fireworks(entries, api_as, make_key):
    job = sandbox_job(api_as, make_key, hyperparameters={"n_epochs": 3})
    dataset = re.compile(re.escape(f"{fw.API}/datasets/") + r"[^/:]+")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            responses.POST,
            f"{fw.API}/datasets",
            callback=lambda r: (
                200,
                {},
                json.dumps(
                    fw.dataset_json(
                        name=f"accounts/{fw.ACCOUNT}/datasets/" + json.loads(r.body)["datasetId"]
                    )
                ),
            ),
        )
        rsps.add(responses.POST, re.compile(dataset.pattern + ":upload"), json={})
        rsps.add_callback(
            responses.GET,
            dataset,
            callback=lambda r: (
                200,
                {},
                json.dumps(
                    fw.dataset_json(
                        name=f"accounts/{fw.ACCOUNT}/datasets/" + r.url.rsplit("/", 1)[-1]
                    )
                ),
            ),
        )
        created = rsps.add(
            responses.POST,
            re.compile(re.escape(f"{fw.API}/supervisedFineTuningJobs") + r"\?.*"),
            json=fw.job_json(),
        )
        retrain(job.public_id, "--provider", "fireworks", "--model", fw.MODEL)
    body = json.loads(created.calls[0].request.body)
    copy = File.objects.get(copied_from__public_id=job.training_file, provider="fireworks")
    assert body["dataset"] == f"accounts/{fw.ACCOUNT}/datasets/{copy.remote_id}"
    assert (body["baseModel"], body["epochs"]) == (fw.MODEL, 3)
