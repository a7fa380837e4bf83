"""Together AI jobs: what the create sends, what it refuses before sending,
and how answers read."""

from __future__ import annotations

import pytest
import responses

from ftproxy.errors import ProviderFailure, ProviderInputError
from ftproxy.providers.data import JobCreate

from .upstream import API, FILE, JOB, KEY, MODEL, job_json, provider, sent_json

WANDB_KEY = "wandb-secret-abcdef0123"


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mocked:
        yield mocked


def create(rsps, answer=None, entry=None, **fields):
    rsps.add(responses.POST, f"{API}/fine-tunes", json=answer or job_json("pending"))
    job = JobCreate(model=fields.pop("model", MODEL), training_file=FILE, **fields)
    remote = provider(**(entry or {})).create_job(job)
    return remote, sent_json(rsps.calls[-1])


def supervised(**hyper):
    return {"type": "supervised", "supervised": {"hyperparameters": hyper}}


def dpo(**hyper):
    return {"type": "dpo", "dpo": {"hyperparameters": hyper}}


def test_a_plain_create_sends_the_model_file_and_sft_and_leaves_lora_to_together(rsps):
    remote, body = create(rsps)
    assert body == {
        "model": MODEL,
        "training_file": FILE,
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
    }
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {KEY}"
    assert (remote.remote_id, remote.status, remote.raw_status) == (JOB, "queued", "pending")


def test_openais_fields_map_to_togethers(rsps):
    _, body = create(
        rsps,
        validation_file="file-val",
        hyperparameters={"n_epochs": 3, "batch_size": 8},
        suffix="support",
        seed=7,
    )
    assert body["validation_file"] == "file-val"
    assert (body["n_epochs"], body["batch_size"]) == (3, 8)
    assert (body["suffix"], body["random_seed"]) == ("support", 7)


def test_auto_asks_for_togethers_default_and_sends_nothing(rsps):
    _, body = create(rsps, hyperparameters={"n_epochs": "auto", "batch_size": "auto"})
    assert "n_epochs" not in body and "batch_size" not in body


def test_togethers_own_settings_are_taken_by_name(rsps):
    _, body = create(
        rsps,
        method=supervised(
            n_epochs=2,
            learning_rate=2e-5,
            n_checkpoints=4,
            n_evals=2,
            warmup_ratio=0.1,
            max_grad_norm=0.5,
            weight_decay=0.01,
            max_seq_length=4096,
            lr_scheduler_type="cosine",
            min_lr_ratio=0.1,
            scheduler_num_cycles=1.5,
            lora_r=16,
            lora_dropout=0.05,
            lora_trainable_modules="q_proj,v_proj",
            train_on_inputs=False,
        ),
    )
    assert body["learning_rate"] == 2e-5
    assert (body["n_checkpoints"], body["n_evals"], body["max_seq_length"]) == (4, 2, 4096)
    assert (body["warmup_ratio"], body["max_grad_norm"], body["weight_decay"]) == (0.1, 0.5, 0.01)
    assert body["lr_scheduler"] == {
        "lr_scheduler_type": "cosine",
        "lr_scheduler_args": {"min_lr_ratio": 0.1, "num_cycles": 1.5},
    }
    # lora_alpha defaults to twice the rank, as the together SDK does.
    assert body["training_type"] == {
        "type": "Lora",
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_trainable_modules": "q_proj,v_proj",
    }
    assert body["training_method"] == {"method": "sft", "train_on_inputs": False}


def test_lora_false_is_full_training(rsps):
    _, body = create(rsps, hyperparameters={"lora": False})
    assert body["training_type"] == {"type": "Full"}


def test_dpo_sends_beta_as_dpo_beta_with_its_own_settings(rsps):
    _, body = create(
        rsps,
        method=dpo(
            beta=0.2, rpo_alpha=1.0, simpo_gamma=0.5, dpo_normalize_logratios_by_length=True
        ),
    )
    assert body["training_method"] == {
        "method": "dpo",
        "dpo_beta": 0.2,
        "rpo_alpha": 1.0,
        "simpo_gamma": 0.5,
        "dpo_normalize_logratios_by_length": True,
    }


def test_a_checkpoint_as_model_continues_from_it_without_a_model(rsps):
    _, body = create(rsps, model=f"{JOB}:20")
    assert body["from_checkpoint"] == f"{JOB}:20" and "model" not in body
    assert provider().tuned_model_reference(f"{JOB}:20") == JOB
    assert provider().tuned_model_reference(MODEL) is None


def test_a_wandb_integration_reports_with_the_entrys_key_which_never_shows(rsps):
    integration = {"type": "wandb", "wandb": {"project": "p", "name": "run", "entity": "team"}}
    answer = job_json("pending", wandb_url=f"https://wandb.example/?key={WANDB_KEY}")
    remote, body = create(
        rsps, answer=answer, entry={"wandb_api_key": WANDB_KEY}, integrations=[integration]
    )
    assert body["wandb_key"] == WANDB_KEY
    assert (body["wandb_project_name"], body["wandb_name"], body["wandb_entity"]) == (
        "p",
        "run",
        "team",
    )
    assert WANDB_KEY not in repr(remote.raw) and WANDB_KEY not in repr(remote.upstream_fields)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"hyperparameters": {"learning_rate_multiplier": 2}},
            "hyperparameters.learning_rate_multiplier",
        ),
        ({"hyperparameters": {"adapter_size": 4}}, "hyperparameters.adapter_size"),
        ({"hyperparameters": {"lora_r": 0}}, "hyperparameters.lora_r"),
        ({"hyperparameters": {"lora_dropout": 1}}, "hyperparameters.lora_dropout"),
        ({"hyperparameters": {"warmup_ratio": 1.5}}, "hyperparameters.warmup_ratio"),
        ({"hyperparameters": {"lora": "yes"}}, "hyperparameters.lora"),
        ({"hyperparameters": {"lora": False, "lora_r": 8}}, "hyperparameters.lora_r"),
        ({"hyperparameters": {"lr_scheduler_type": "step"}}, "hyperparameters.lr_scheduler_type"),
        (
            {"hyperparameters": {"lr_scheduler_type": "linear", "scheduler_num_cycles": 2}},
            "hyperparameters.scheduler_num_cycles",
        ),
        ({"method": dpo(train_on_inputs=True)}, "method.dpo.hyperparameters.train_on_inputs"),
        ({"method": supervised(rpo_alpha=1.0)}, "method.supervised.hyperparameters.rpo_alpha"),
        (
            {"hyperparameters": {"n_epochs": 2}, "method": supervised(n_epochs=3)},
            "method.supervised.hyperparameters.n_epochs",
        ),
        ({"method": {"type": "reinforcement", "reinforcement": {}}}, "method.type"),
        ({"suffix": "x" * 41}, "suffix"),
        ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]}, "integrations"),
        ({"training_type": "standard"}, "trainingType"),
    ],
)
def test_what_together_cannot_take_is_a_400_naming_it_before_anything_is_sent(fields, param):
    job = JobCreate(model=MODEL, training_file=FILE, **fields)
    with responses.RequestsMock():  # any call would fail the test
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(job)
    assert (caught.value.status_code, caught.value.param) == (400, param)
    with pytest.raises(ProviderInputError):
        provider().check_job(job)


def test_wandb_tags_are_refused():
    integration = {"type": "wandb", "wandb": {"project": "p", "tags": ["a"]}}
    job = JobCreate(model=MODEL, training_file=FILE, integrations=[integration])
    with pytest.raises(ProviderInputError) as caught:
        provider(wandb_api_key=WANDB_KEY).check_job(job)
    assert caught.value.param == "integrations[0].wandb.tags"


def test_a_succeeded_job_reads_in_openais_words(rsps):
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}", json=job_json("completed"))
    job = provider().retrieve_job(JOB)
    assert (job.status, job.terminal) == ("succeeded", True)
    assert job.created_at == 1684344945 and job.finished_at == 1684349183
    assert job.fine_tuned_model == "mynamespace/Meta-Llama-3.1-8B-Instruct-Reference-32162631"
    assert job.trained_tokens == 850000 * 3  # Together bills epochs × dataset tokens
    assert job.hyperparameters == {"n_epochs": 3, "batch_size": 8, "learning_rate": 1e-05}
    assert job.method["type"] == "supervised"
    assert job.upstream_fields["total_price"] == 1500
    assert job.upstream_fields["training_type"]["type"] == "Lora"


def test_a_running_job_has_no_model_yet_and_an_estimated_finish(rsps):
    progress = {"estimate_available": True, "seconds_remaining": 600}
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}", json=job_json("running", progress=progress))
    job = provider().retrieve_job(JOB)
    assert job.fine_tuned_model is None and job.trained_tokens is None
    assert job.estimated_finish == 1684349183 + 600 and job.finished_at is None


def test_a_failed_job_says_why_from_its_error_event(rsps):
    events = [
        {"object": "fine-tune-event", "type": "JOB_START", "message": "started"},
        {"object": "fine-tune-event", "type": "JOB_USER_ERROR", "message": "Bad line 3"},
    ]
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}", json=job_json("user_error", events=events))
    job = provider().retrieve_job(JOB)
    assert job.status == "failed"
    assert job.error == {"code": "user_error", "message": "Bad line 3", "param": None}


def test_a_dpo_job_reads_back_its_beta(rsps):
    answer = job_json("running", training_method={"method": "dpo", "dpo_beta": 0.3})
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}", json=answer)
    method = provider().retrieve_job(JOB).method
    assert method["type"] == "dpo" and method["dpo"]["hyperparameters"]["beta"] == 0.3


def test_an_unknown_status_is_kept_and_reads_as_running(rsps):
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}", json=job_json("warming_up"))
    job = provider().retrieve_job(JOB)
    assert (job.status, job.raw_status, job.terminal) == ("running", "warming_up", False)


def test_events_page_newest_first_by_id(rsps):
    events = [
        {"object": "fine-tune-event", "created_at": f"2023-05-17T17:3{n}:00Z", "message": f"e{n}"}
        for n in range(5)
    ]
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}/events", json={"data": events})
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}/events", json={"data": events})
    first = provider().list_job_events(JOB, None, 2)
    assert [e.message for e in first.items] == ["e4", "e3"] and first.has_more
    second = provider().list_job_events(JOB, first.items[-1].id, 10)
    assert [e.message for e in second.items] == ["e2", "e1", "e0"] and not second.has_more


def test_checkpoints_are_named_as_from_checkpoint_takes_them(rsps):
    checkpoints = [
        {"step": 10, "checkpoint_type": "Intermediate", "created_at": "2023-05-17T18:00:00Z"},
        {"step": 30, "checkpoint_type": "Final", "created_at": "2023-05-17T18:30:00Z"},
    ]
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}/checkpoints", json={"data": checkpoints})
    page = provider().list_job_checkpoints(JOB, None, 10)
    assert [c.fine_tuned_model_checkpoint for c in page.items] == [JOB, f"{JOB}:10"]
    assert [c.step_number for c in page.items] == [30, 10]


def test_a_malformed_list_is_a_502(rsps):
    rsps.add(responses.GET, f"{API}/fine-tunes/{JOB}/events", json={"data": "nope"})
    with pytest.raises(ProviderFailure) as caught:
        provider().list_job_events(JOB, None, 10)
    assert caught.value.status_code == 502
