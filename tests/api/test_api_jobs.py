"""/v1/fine_tuning/jobs through the API, on the sandbox provider."""

import time

import pytest

from ftproxy.models import FineTuningJob, JobEvent, LedgerState
from tests.conftest import TRAINING, jsonl
from tests.factories import ledger_file

pytestmark = pytest.mark.django_db

REQUIRED_JOB_FIELDS = {
    "id",
    "object",
    "created_at",
    "error",
    "fine_tuned_model",
    "finished_at",
    "hyperparameters",
    "model",
    "organization_id",
    "result_files",
    "status",
    "trained_tokens",
    "training_file",
    "validation_file",
    "seed",
}


@pytest.fixture
def training_file(sandbox, master):
    return master.upload(TRAINING).json()["id"]


def create(api, training_file, **fields):
    return api.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": training_file, **fields}
    )


def test_create_forwards_every_field_and_answers_a_full_job(master, training_file):
    response = create(
        master,
        training_file,
        validation_file=training_file,
        suffix="custom",
        seed=42,
        metadata={"team": "search"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
        integrations=[{"type": "wandb", "wandb": {"project": "p"}}],
    )
    assert response.status_code == 200, response.content
    job = response.json()
    assert REQUIRED_JOB_FIELDS <= set(job)
    assert job["object"] == "fine_tuning.job"
    assert job["id"].startswith("ftjob-")
    assert job["training_file"] == training_file
    assert job["validation_file"] == training_file
    assert job["seed"] == 42
    assert job["metadata"] == {"team": "search"}
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert job["integrations"] == [{"type": "wandb", "wandb": {"project": "p"}}]
    assert job["status"] == "running"
    row = FineTuningJob.objects.get(public_id=job["id"])
    assert row.ledger_state == LedgerState.OK and row.raw_status == "running"
    assert list(JobEvent.objects.filter(job=row).values_list("from_status", "to_status")) == [
        ("", "running")
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"n_epochs": "many"}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"batch_size": 1.5}}, "hyperparameters.batch_size"),
        (
            {"hyperparameters": {"learning_rate_multiplier": 0}},
            "hyperparameters.learning_rate_multiplier",
        ),
        ({"hyperparameters": {"epochs": 3}}, "hyperparameters.epochs"),
        ({"method": {"type": "magic"}}, "method.type"),
        ({"method": {"type": "dpo", "supervised": {}}}, "method.supervised"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"seed": -1}, "seed"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"integrations": [{"type": "wandb", "wandb": {}}]}, "integrations[0].wandb.project"),
        ({"temperature": 1}, "temperature"),
    ],
)
def test_invalid_create_is_400_naming_the_field(master, training_file, fields, param):
    response = create(master, training_file, **fields)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert not FineTuningJob.objects.exists()


def test_missing_model_is_400(master, training_file):
    response = master.post_json("/v1/fine_tuning/jobs", {"training_file": training_file})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_non_object_body_is_400(master, sandbox):
    response = master.post_json("/v1/fine_tuning/jobs", ["a"])
    assert response.status_code == 400


def test_malformed_json_is_400(master, sandbox):
    response = master.client.post(
        "/v1/fine_tuning/jobs",
        "{nope",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sk-test-master",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_training_file_is_400_for_a_user_key(sandbox, api_as, make_key):
    response = create(api_as(make_key()), "file-nope")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"


def test_training_file_with_another_purpose_is_400(sandbox, master):
    batch = master.upload(b"{}", purpose="batch").json()["id"]
    response = create(master, batch)
    assert response.status_code == 400
    assert "purpose" in response.json()["error"]["message"]


def test_upstream_rejection_is_passed_on_and_recorded(master, sandbox):
    # The master key may name files the ledger does not know; the sandbox says 400.
    response = create(master, "file-not-in-sandbox")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"
    row = FineTuningJob.objects.get()
    assert row.ledger_state == LedgerState.FAILED and row.ledger_error
    assert master.get("/v1/fine_tuning/jobs").json()["data"] == []


def test_list_paginates_and_filters_by_metadata(master, training_file):
    ids = [create(master, training_file, metadata={"n": str(i % 2)}).json()["id"] for i in range(5)]
    first = master.get("/v1/fine_tuning/jobs", {"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    assert "first_id" not in first
    rest = master.get("/v1/fine_tuning/jobs", {"limit": 10, "after": ids[3]}).json()
    assert [j["id"] for j in rest["data"]] == ids[::-1][2:] and rest["has_more"] is False
    odd = master.get("/v1/fine_tuning/jobs", {"metadata[n]": "1"}).json()["data"]
    assert [j["id"] for j in odd] == [ids[3], ids[1]]


def test_retrieve_refreshes_from_the_provider(master, gateway_config, sandbox_entry):
    gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 0}],
            "files_settings": [sandbox_entry],
        }
    )
    file_id = master.upload(TRAINING).json()["id"]
    job_id = create(master, file_id).json()["id"]
    job = master.get(f"/v1/fine_tuning/jobs/{job_id}").json()
    assert job["status"] == "succeeded"
    assert job["fine_tuned_model"] and job["trained_tokens"] and job["finished_at"]
    row = FineTuningJob.objects.get(public_id=job_id)
    assert row.terminal and row.synced_at


def test_pause_resume_cancel_record_each_change(master, training_file):
    job_id = create(master, training_file).json()["id"]
    assert master.post_json(f"/v1/fine_tuning/jobs/{job_id}/pause").json()["status"] == "paused"
    resumed = master.post_json(f"/v1/fine_tuning/jobs/{job_id}/resume").json()["status"]
    assert resumed in {"queued", "running"}
    cancelled = master.post_json(f"/v1/fine_tuning/jobs/{job_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    row = FineTuningJob.objects.get(public_id=job_id)
    sources = list(JobEvent.objects.filter(job=row).order_by("id").values_list("source", flat=True))
    assert sources[0] == "create" and sources[1] == "pause" and sources[-1] == "cancel"
    again = master.post_json(f"/v1/fine_tuning/jobs/{job_id}/cancel")
    assert again.status_code == 400  # the provider's own 4xx, passed on


def test_events_and_checkpoints_are_lists_with_cursor(master, training_file):
    job_id = create(master, training_file).json()["id"]
    events = master.get(f"/v1/fine_tuning/jobs/{job_id}/events", {"limit": 1}).json()
    assert events["object"] == "list" and len(events["data"]) == 1
    assert events["data"][0]["object"] == "fine_tuning.job.event"
    checkpoints = master.get(f"/v1/fine_tuning/jobs/{job_id}/checkpoints").json()
    assert checkpoints["object"] == "list" and "has_more" in checkpoints


def test_idempotent_create_is_replayed_and_mismatch_is_400(master, training_file):
    headers = {"Idempotency-Key": "job-1"}
    first = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "m", "training_file": training_file}, headers=headers
    )
    replay = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "m", "training_file": training_file}, headers=headers
    )
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert FineTuningJob.objects.count() == 1
    mismatch = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "other", "training_file": training_file},
        headers=headers,
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["param"] == "Idempotency-Key"


def test_unknown_job_is_404_on_every_route(master, sandbox):
    for response in (
        master.get("/v1/fine_tuning/jobs/ftjob-nope"),
        master.get("/v1/fine_tuning/jobs/ftjob-nope/events"),
        master.get("/v1/fine_tuning/jobs/ftjob-nope/checkpoints"),
        master.post_json("/v1/fine_tuning/jobs/ftjob-nope/cancel"),
        master.post_json("/v1/fine_tuning/jobs/ftjob-nope/pause"),
        master.post_json("/v1/fine_tuning/jobs/ftjob-nope/resume"),
    ):
        assert response.status_code == 404


def test_request_queries_stay_fixed_whatever_the_ledger_size(
    master, training_file, django_assert_max_num_queries
):
    job_id = create(master, training_file).json()["id"]
    for _ in range(20):
        create(master, training_file)
    with django_assert_max_num_queries(4):
        master.get("/v1/fine_tuning/jobs", {"limit": 5, "after": job_id})
    with django_assert_max_num_queries(8):
        master.get(f"/v1/fine_tuning/jobs/{job_id}")


@pytest.mark.parametrize("key", ["team__x", "team__isnull", "a__contains", "0", "12", "-1", "a.b"])
def test_metadata_filter_keys_are_matched_literally(master, training_file, key):
    wanted = create(master, training_file, metadata={key: "1"}).json()["id"]
    create(master, training_file, metadata={"other": "1"})
    response = master.get("/v1/fine_tuning/jobs", {f"metadata[{key}]": "1"})
    assert response.status_code == 200
    assert [job["id"] for job in response.json()["data"]] == [wanted]


def test_non_finite_hyperparameter_is_400_not_a_server_error(master, training_file):
    response = master.client.post(
        "/v1/fine_tuning/jobs",
        '{"model": "m", "training_file": "' + training_file + '", '
        '"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 1e999}}}}',
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sk-test-master",
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "method.dpo.hyperparameters.beta"


def test_a_hyperparameter_the_provider_does_not_know_is_refused_not_dropped(master, training_file):
    response = create(master, training_file, hyperparameters={"adapter_size": 4})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "hyperparameters.adapter_size"


def test_a_succeeded_jobs_result_files_can_be_downloaded_by_its_key(
    gateway_config, sandbox_entry, api_as, make_key
):
    gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 0}],
            "files_settings": [sandbox_entry],
        }
    )
    owner, other = api_as(make_key("owner")), api_as(make_key("other"))
    file_id = owner.upload(TRAINING).json()["id"]
    job = create(owner, file_id).json()
    assert job["status"] == "succeeded" and job["result_files"]
    result_id = job["result_files"][0]
    meta = owner.get(f"/v1/files/{result_id}").json()
    assert meta["purpose"] == "fine-tune-results"
    content = owner.get(f"/v1/files/{result_id}/content")
    assert content.status_code == 200 and b"".join(content.streaming_content)
    assert other.get(f"/v1/files/{result_id}").status_code == 404


def test_an_entry_on_the_jobs_list_must_be_configured(master, training_file):
    create(master, training_file)
    assert (
        len(master.get("/v1/fine_tuning/jobs", {"custom_llm_provider": "sandbox"}).json()["data"])
        == 1
    )
    response = master.get("/v1/fine_tuning/jobs", headers={"custom-llm-provider": "azure"})
    assert response.status_code == 400


def test_a_creates_entry_is_read_as_its_serializer_cleaned_it(master, training_file):
    # Surrounding blanks are trimmed like any other text field of the body;
    # a blank one names no entry (the header, the query or the only one counts).
    assert create(master, training_file, custom_llm_provider=" sandbox ").status_code == 200
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": training_file, "custom_llm_provider": " "},
        headers={"custom-llm-provider": "azure"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "custom_llm_provider"


def test_a_create_the_provider_refused_leaves_no_made_up_status(master, sandbox):
    assert create(master, "file-not-in-sandbox").status_code == 400
    row = FineTuningJob.objects.get()
    assert (row.ledger_state, row.status) == (LedgerState.FAILED, "")


def test_a_result_file_the_master_adopted_first_still_goes_to_the_jobs_key(
    gateway_config, sandbox_entry, api_as, make_key
):
    gateway_config(
        {
            "finetune_settings": [{**sandbox_entry, "run_seconds": 1}],
            "files_settings": [sandbox_entry],
        }
    )
    owner = api_as(make_key("owner"))
    job_id = create(owner, owner.upload(TRAINING).json()["id"]).json()["id"]
    time.sleep(1.1)
    from ftproxy.providers.sandbox import SandboxProvider

    remote = SandboxProvider({**sandbox_entry, "name": "sandbox"}).retrieve_job(job_id)
    result_id = remote.result_files[0]
    ledger_file(  # as if the master key had adopted it with a hint
        result_id, provider="sandbox", filename="step_metrics.csv", purpose="fine-tune-results"
    )
    assert owner.get(f"/v1/fine_tuning/jobs/{job_id}").json()["status"] == "succeeded"
    assert owner.get(f"/v1/files/{result_id}").status_code == 200


DPO_LINE = {
    "input": {"messages": [{"role": "user", "content": "Hi"}]},
    "preferred_output": [{"role": "assistant", "content": "Hello!"}],
    "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
}


def test_the_sandbox_refuses_a_method_that_does_not_fit_the_file(master, sandbox):
    chat_file = master.upload(TRAINING).json()["id"]
    dpo_file = master.upload(jsonl(*[DPO_LINE] * 10), filename="dpo.jsonl").json()["id"]
    dpo = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}
    assert create(master, chat_file, method=dpo).status_code == 400
    assert create(master, dpo_file).status_code == 400
    assert create(master, dpo_file, method=dpo).status_code == 200


def test_a_metadata_filter_key_with_a_quote_is_400(master, sandbox):
    response = master.get("/v1/fine_tuning/jobs", {'metadata[a"b]': "1"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == 'metadata[a"b]'
