"""The sandbox provider: offline files and simulated fine-tuning jobs.

Time is controlled only through the stage lengths of the entry: 0 makes a
stage instant, fractions of a second let a test watch it pass.
"""

from __future__ import annotations

import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ftproxy.errors import ProviderInputError, ProviderNotFound
from ftproxy.providers.data import FileUpload, JobCreate
from ftproxy.providers.sandbox import SandboxProvider
from ftproxy.providers.sandbox.store import CHUNK_SIZE

LINE = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "!"}]}\n'
TRAINING = LINE * 10
DPO_LINE = (
    b'{"input": {"messages": [{"role": "user", "content": "hi"}]}, '
    b'"preferred_output": [{"role": "assistant", "content": "!"}], '
    b'"non_preferred_output": [{"role": "assistant", "content": "?"}]}\n'
)
INSTANT = {"validate_seconds": 0, "queue_seconds": 0, "run_seconds": 0}
CHECKPOINT_METRIC_KEYS = {
    "step",
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
}


def make_provider(storage, **options) -> SandboxProvider:
    entry = {"custom_llm_provider": "sandbox", "name": "sandbox", **options}
    if storage is not None:
        entry["storage_dir"] = str(storage)
    return SandboxProvider(entry)


def upload(provider, data=TRAINING, purpose="fine-tune", **kwargs):
    return provider.upload_file(
        FileUpload(
            filename=kwargs.pop("filename", "train.jsonl"),
            purpose=purpose,
            stream=kwargs.pop("stream", None) or io.BytesIO(data),
            size=len(data),
            **kwargs,
        )
    )


def content_of(provider, file_id) -> bytes:
    content = provider.file_content(file_id)
    try:
        return b"".join(content.chunks)
    finally:
        content.close()


def create(provider, training_file, **fields):
    return provider.create_job(
        JobCreate(model=fields.pop("model", "gpt-4o-mini"), training_file=training_file, **fields)
    )


def wait_for(provider, job_id, statuses, timeout=5.0):
    """Poll until the job's status is one of ``statuses``; return the
    statuses seen on the way (consecutive duplicates dropped)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = provider.retrieve_job(job_id).status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in statuses:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"job never reached {statuses}; saw {seen}")


@pytest.fixture
def instant(tmp_path):
    return make_provider(tmp_path, **INSTANT)


@pytest.fixture
def training(instant):
    return upload(instant).remote_id


class RecordingStream(io.BytesIO):
    """A stream that remembers the largest read asked of it."""

    largest_read = 0

    def read(self, size=-1):
        if size is None or size < 0:
            raise AssertionError("the whole stream was read at once")
        self.largest_read = max(self.largest_read, size)
        return super().read(size)


# ---- files ------------------------------------------------------------------


def test_upload_returns_a_processed_file_with_an_openai_like_id(instant):
    before = int(time.time())
    remote = upload(instant, filename="data.jsonl")
    assert re.fullmatch(r"file-[0-9a-f]{32}", remote.remote_id)
    assert remote.filename == "data.jsonl"
    assert remote.purpose == "fine-tune"
    assert remote.bytes == len(TRAINING)
    assert remote.status == "processed"
    assert before <= remote.created_at <= int(time.time())
    assert remote.expires_at is None
    assert remote.raw["object"] == "file" and remote.raw["id"] == remote.remote_id


def test_retrieve_returns_what_upload_returned(instant):
    remote = upload(instant)
    assert instant.retrieve_file(remote.remote_id) == remote


def test_expires_after_sets_expires_at_from_created_at(instant):
    remote = upload(instant, expires_after={"anchor": "created_at", "seconds": 3600})
    assert remote.expires_at == remote.created_at + 3600


def test_an_expired_file_is_not_found(instant):
    remote = upload(instant, expires_after={"anchor": "created_at", "seconds": 0})
    with pytest.raises(ProviderNotFound):
        instant.retrieve_file(remote.remote_id)


def test_content_is_byte_exact(instant):
    data = bytes(range(256)) * 3 + b"\r\n\x00no final newline"
    remote = upload(instant, data=data, purpose="user_data")
    content = instant.file_content(remote.remote_id)
    assert content.length == len(data)
    assert b"".join(content.chunks) == data


def test_large_upload_is_streamed_in_chunks_and_comes_back_exact(instant):
    data = bytes(range(251)) * (5 * CHUNK_SIZE // 251)
    stream = RecordingStream(data)
    remote = upload(instant, data=data, stream=stream)
    assert remote.bytes == len(data)
    assert 0 < stream.largest_read <= CHUNK_SIZE
    chunks = list(instant.file_content(remote.remote_id).chunks)
    assert len(chunks) > 1 and max(map(len, chunks)) <= CHUNK_SIZE
    assert b"".join(chunks) == data


def test_upload_reads_from_the_start_of_a_stream_already_read(instant):
    stream = io.BytesIO(TRAINING)
    stream.read()  # e.g. the service validated it line by line
    remote = upload(instant, stream=stream)
    assert content_of(instant, remote.remote_id) == TRAINING


def test_closing_content_closes_the_file(instant):
    remote = upload(instant)
    content = instant.file_content(remote.remote_id)
    content.close()
    with pytest.raises(ValueError):
        next(content.chunks)


def test_deleted_file_is_404_for_retrieve_content_and_delete(instant):
    remote = upload(instant)
    instant.delete_file(remote.remote_id)
    for hook in (instant.retrieve_file, instant.file_content, instant.delete_file):
        with pytest.raises(ProviderNotFound) as caught:
            hook(remote.remote_id)
        assert caught.value.status_code == 404


@pytest.mark.parametrize("file_id", ["file-0123456789abcdef", "../file-1234", "ftjob-abcdef12", ""])
def test_unknown_or_malformed_file_id_is_404(instant, file_id):
    with pytest.raises(ProviderNotFound):
        instant.retrieve_file(file_id)
    with pytest.raises(ProviderNotFound):
        instant.file_content(file_id)


# ---- job creation -----------------------------------------------------------


def test_create_with_a_missing_training_file_is_400_naming_training_file(instant):
    with pytest.raises(ProviderInputError) as caught:
        create(instant, "file-00000000000000000000000000000000")
    assert caught.value.status_code == 400
    assert caught.value.param == "training_file"
    assert "file-00000000000000000000000000000000" in caught.value.message


def test_create_with_a_missing_validation_file_is_400_naming_validation_file(instant, training):
    with pytest.raises(ProviderInputError) as caught:
        create(instant, training, validation_file="file-11111111111111111111111111111111")
    assert caught.value.status_code == 400
    assert caught.value.param == "validation_file"


def test_create_with_a_file_not_for_fine_tuning_is_400(instant):
    other = upload(instant, purpose="assistants").remote_id
    with pytest.raises(ProviderInputError) as caught:
        create(instant, other)
    assert caught.value.param == "training_file"


def test_create_with_an_out_of_range_hyperparameter_is_400(instant, training):
    with pytest.raises(ProviderInputError) as caught:
        create(instant, training, hyperparameters={"n_epochs": 0})
    assert caught.value.param == "hyperparameters.n_epochs"


def test_every_create_field_is_echoed(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=60, organization_id="org-acme")
    training = upload(provider, data=DPO_LINE * 10).remote_id
    validation = upload(provider, data=DPO_LINE * 2).remote_id
    method = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}}
    integrations = [{"type": "wandb", "wandb": {"project": "p", "tags": ["a"]}}]
    job = create(
        provider,
        training,
        validation_file=validation,
        hyperparameters={"batch_size": 4},
        method=method,
        suffix="my-model",
        seed=42,
        integrations=integrations,
        metadata={"team": "search"},
    )
    assert re.fullmatch(r"ftjob-[0-9a-f]{32}", job.remote_id)
    assert (job.model, job.training_file, job.validation_file) == (
        "gpt-4o-mini",
        training,
        validation,
    )
    assert (job.suffix, job.seed, job.metadata) == ("my-model", 42, {"team": "search"})
    assert job.integrations == integrations
    assert job.organization_id == "org-acme"
    assert job.status == job.raw_status == "validating_files"
    assert not job.terminal
    # As given until the job runs, "auto" where nothing was given:
    given = {"batch_size": 4, "learning_rate_multiplier": "auto", "n_epochs": 2}
    assert job.hyperparameters == given
    assert job.method == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, **given}}}
    assert job.raw["object"] == "fine_tuning.job"
    assert job.estimated_finish is not None and job.finished_at is None
    assert provider.retrieve_job(job.remote_id) == job


def test_seed_is_chosen_when_not_given(instant, training):
    job = create(instant, training)
    assert isinstance(job.seed, int) and 0 <= job.seed <= 2**31 - 1
    assert instant.retrieve_job(job.remote_id).seed == job.seed


@pytest.mark.parametrize(
    "hook", ["retrieve_job", "cancel_job", "pause_job", "resume_job", "events", "checkpoints"]
)
def test_unknown_job_is_404_for_every_hook(instant, hook):
    call = {
        "events": lambda job_id: instant.list_job_events(job_id, None, 10),
        "checkpoints": lambda job_id: instant.list_job_checkpoints(job_id, None, 10),
    }.get(hook) or getattr(instant, hook)
    with pytest.raises(ProviderNotFound):
        call("ftjob-0123456789abcdef0123456789abcdef")


# ---- life cycle -------------------------------------------------------------


def test_with_instant_stages_a_job_succeeds_at_once(instant, training):
    job = create(instant, training, suffix="demo")
    id8 = job.remote_id.removeprefix("ftjob-")[:8]
    assert job.status == "succeeded" and job.terminal
    assert job.fine_tuned_model == f"ft:gpt-4o-mini:sandbox:demo:{id8}"
    assert job.finished_at == job.created_at
    assert job.estimated_finish is None
    assert job.error is None
    assert job.trained_tokens == len(TRAINING) // 4 * 3
    assert job.hyperparameters == {"batch_size": 1, "learning_rate_multiplier": 1.8, "n_epochs": 3}
    assert job.method == {
        "type": "supervised",
        "supervised": {"hyperparameters": job.hyperparameters},
    }


def test_without_suffix_the_model_name_has_an_empty_suffix(instant, training):
    job = create(instant, training)
    assert job.fine_tuned_model == f"ft:gpt-4o-mini:sandbox::{job.remote_id[6:14]}"


def test_a_succeeded_job_has_a_results_csv_in_the_sandbox(instant, training):
    job = create(instant, training)
    (result_id,) = job.result_files
    result = instant.retrieve_file(result_id)
    assert result.purpose == "fine-tune-results"
    csv = content_of(instant, result_id).decode()
    assert csv.startswith("step,train_loss,")
    assert instant.retrieve_job(job.remote_id).result_files == [result_id]


def test_a_job_walks_through_every_stage_on_the_clock(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0.2, queue_seconds=0.2, run_seconds=0.4)
    training = upload(provider).remote_id
    job = create(provider, training)
    assert job.status == "validating_files"
    assert job.hyperparameters["n_epochs"] == "auto"
    seen = wait_for(provider, job.remote_id, {"running"})
    assert seen == ["validating_files", "queued", "running"]
    running = provider.retrieve_job(job.remote_id)
    assert running.hyperparameters["n_epochs"] == 3
    assert running.fine_tuned_model is None and running.estimated_finish is not None
    assert wait_for(provider, job.remote_id, {"succeeded"}) == ["running", "succeeded"]
    done = provider.retrieve_job(job.remote_id)
    assert done.terminal and done.fine_tuned_model and done.finished_at >= done.created_at


def test_a_long_running_job_has_no_checkpoints_or_metrics_yet(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    assert job.status == "running"
    assert provider.list_job_checkpoints(job.remote_id, None, 10).items == []
    events = provider.list_job_events(job.remote_id, None, 50).items
    assert events[0].message == "Fine-tuning job started"
    assert all(event.type == "message" for event in events)


# ---- cancel, pause, resume --------------------------------------------------


def test_cancel_ends_a_running_job(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    cancelled = provider.cancel_job(job.remote_id)
    assert cancelled.status == "cancelled" and cancelled.terminal
    assert cancelled.finished_at is not None and cancelled.estimated_finish is None
    assert cancelled.fine_tuned_model is None and cancelled.result_files == []
    newest = provider.list_job_events(job.remote_id, None, 1).items[0]
    assert newest.message == "Fine-tuning job cancelled"


def test_cancel_works_before_the_job_runs_and_keeps_hyperparameters_as_given(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    cancelled = provider.cancel_job(job.remote_id)
    assert cancelled.status == "cancelled"
    assert cancelled.hyperparameters["n_epochs"] == "auto"


def test_cancel_of_a_finished_job_is_400(instant, training):
    job = create(instant, training)
    with pytest.raises(ProviderInputError) as caught:
        instant.cancel_job(job.remote_id)
    assert caught.value.status_code == 400
    assert caught.value.message.startswith("Job has already completed")


def test_pause_is_only_for_running_jobs(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    with pytest.raises(ProviderInputError) as caught:
        provider.pause_job(job.remote_id)
    assert caught.value.status_code == 400
    provider.cancel_job(job.remote_id)
    with pytest.raises(ProviderInputError):
        provider.pause_job(job.remote_id)


def test_pause_of_a_paused_job_is_400_and_resume_of_a_running_job_is_400(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    with pytest.raises(ProviderInputError):
        provider.resume_job(job.remote_id)
    assert provider.pause_job(job.remote_id).status == "paused"
    with pytest.raises(ProviderInputError):
        provider.pause_job(job.remote_id)


def test_a_paused_job_can_be_cancelled(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    provider.pause_job(job.remote_id)
    assert provider.cancel_job(job.remote_id).status == "cancelled"
    with pytest.raises(ProviderInputError):
        provider.resume_job(job.remote_id)


def test_paused_time_does_not_count_and_resume_answers_queued(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0.2, run_seconds=0.4)
    start = time.monotonic()
    job = create(provider, upload(provider).remote_id)
    wait_for(provider, job.remote_id, {"running"})
    paused = provider.pause_job(job.remote_id)
    assert paused.status == "paused" and paused.estimated_finish is None
    time.sleep(0.5)  # longer than the whole run
    assert provider.retrieve_job(job.remote_id).status == "paused"
    resumed = provider.resume_job(job.remote_id)
    assert resumed.status == "queued"  # for queue_seconds, then running again
    assert wait_for(provider, job.remote_id, {"succeeded"}) == ["queued", "running", "succeeded"]
    assert time.monotonic() - start >= 0.2 + 0.4 + 0.5 + 0.2
    messages = [event.message for event in provider.list_job_events(job.remote_id, None, 50).items]
    assert messages.index("Fine-tuning job resumed") < messages.index("Fine-tuning job paused")


# ---- events and checkpoints -------------------------------------------------


def test_events_tell_the_life_cycle_newest_first(instant, training):
    job = create(instant, training)
    events = instant.list_job_events(job.remote_id, None, 100).items
    messages = [event.message for event in events]
    assert messages[0] == "The job has successfully completed"
    assert messages[1].startswith("New fine-tuned model created: ft:gpt-4o-mini:sandbox:")
    assert messages[-4:] == [
        "Fine-tuning job started",
        "Files validated, moving job to queued state",
        f"Validating training file: {training}",
        f"Created fine-tuning job: {job.remote_id}",
    ]
    assert "Checkpoint created at step 30" in messages
    metrics = [event for event in events if event.type == "metrics"]
    assert len(metrics) >= 3
    assert {"step", "train_loss", "total_steps"} <= set(metrics[0].data)
    steps = [event.data["step"] for event in metrics]
    assert steps == sorted(steps, reverse=True)
    assert all(re.fullmatch(r"ftevent-[0-9a-f]+", event.id) for event in events)
    assert all(event.level == "info" for event in events)
    assert len({event.id for event in events}) == len(events)


def test_events_page_with_after_and_limit(instant, training):
    job = create(instant, training)
    everything = instant.list_job_events(job.remote_id, None, 100)
    assert not everything.has_more
    pages, after = [], None
    while True:
        page = instant.list_job_events(job.remote_id, after, 4)
        pages.append(page)
        if not page.has_more:
            break
        after = page.items[-1].id
    assert [event for page in pages for event in page.items] == everything.items
    assert all(len(page.items) == 4 for page in pages[:-1]) and len(pages) > 2
    assert instant.list_job_events(job.remote_id, everything.items[-1].id, 4).items == []
    exact = instant.list_job_events(job.remote_id, None, len(everything.items))
    assert not exact.has_more


def test_checkpoints_are_the_last_three_epochs_newest_first_with_openai_metrics(instant):
    training = upload(instant).remote_id
    validation = upload(instant, data=LINE).remote_id
    job = create(instant, training, validation_file=validation, hyperparameters={"n_epochs": 4})
    checkpoints = instant.list_job_checkpoints(job.remote_id, None, 10).items
    assert [c.step_number for c in checkpoints] == [40, 30, 20]
    for checkpoint in checkpoints:
        assert re.fullmatch(r"ftckpt-[0-9a-f]+", checkpoint.id)
        assert checkpoint.fine_tuned_model_checkpoint == (
            f"{job.fine_tuned_model}:ckpt-step-{checkpoint.step_number}"
        )
        assert set(checkpoint.metrics) == CHECKPOINT_METRIC_KEYS
        assert checkpoint.metrics["step"] == checkpoint.step_number
        assert checkpoint.metrics["valid_loss"] is not None


def test_checkpoints_page_with_after_and_limit(instant, training):
    job = create(instant, training)
    first = instant.list_job_checkpoints(job.remote_id, None, 2)
    assert len(first.items) == 2 and first.has_more
    rest = instant.list_job_checkpoints(job.remote_id, first.items[-1].id, 2)
    assert [c.step_number for c in first.items + rest.items] == [30, 20, 10]
    assert not rest.has_more


def test_events_and_checkpoints_appear_as_the_run_progresses(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=0.6)
    job = create(provider, upload(provider).remote_id)
    early = provider.list_job_events(job.remote_id, None, 100).items
    wait_for(provider, job.remote_id, {"succeeded"})
    late = provider.list_job_events(job.remote_id, None, 100).items
    assert len(early) < len(late)
    assert {event.id for event in early} <= {event.id for event in late}


# ---- the failure outcome ----------------------------------------------------


@pytest.mark.parametrize(
    "fields", [{"suffix": "fail"}, {"metadata": {"sandbox_outcome": "failed"}}]
)
def test_a_job_asked_to_fail_ends_failed_with_an_openai_shaped_error(instant, training, fields):
    job = create(instant, training, **fields)
    assert job.status == "failed" and job.terminal
    assert set(job.error) == {"code", "message", "param"}
    assert job.error["code"] == "sandbox_simulated_failure"
    assert job.fine_tuned_model is None and job.trained_tokens is None
    assert job.result_files == [] and job.finished_at is not None
    newest = instant.list_job_events(job.remote_id, None, 1).items[0]
    assert newest.level == "error"
    checkpoints = instant.list_job_checkpoints(job.remote_id, None, 10).items
    assert [c.step_number for c in checkpoints] == [20, 10]


def test_a_failing_job_runs_its_course_before_failing(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0.1, queue_seconds=0.1, run_seconds=0.2)
    job = create(provider, upload(provider).remote_id, suffix="fail")
    seen = wait_for(provider, job.remote_id, {"failed"})
    assert seen == ["validating_files", "queued", "running", "failed"]


# ---- shared storage ---------------------------------------------------------


def test_two_providers_on_one_storage_dir_see_the_same_files_and_jobs(tmp_path):
    files = make_provider(tmp_path)
    jobs = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    training = upload(files).remote_id
    job = create(jobs, training)
    other = make_provider(tmp_path)
    assert other.retrieve_job(job.remote_id).status == "running"
    other.pause_job(job.remote_id)
    assert jobs.retrieve_job(job.remote_id).status == "paused"
    assert content_of(jobs, training) == TRAINING


def test_entries_with_default_options_share_var_dir_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("FTPROXY_VAR_DIR", str(tmp_path / "var"))
    files_entry, finetune_entry = make_provider(None), make_provider(None)
    remote = upload(files_entry)
    assert (tmp_path / "var" / "sandbox" / "files" / f"{remote.remote_id}.json").exists()
    assert finetune_entry.retrieve_file(remote.remote_id) == remote


def test_default_storage_is_var_sandbox_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("FTPROXY_VAR_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    remote = upload(make_provider(None))
    assert (tmp_path / "var" / "sandbox" / "files" / f"{remote.remote_id}.bin").exists()


def test_stage_lengths_are_taken_from_the_entry_that_created_the_job(tmp_path):
    slow = make_provider(tmp_path, validate_seconds=3600)
    job = create(slow, upload(slow).remote_id)
    assert make_provider(tmp_path, **INSTANT).retrieve_job(job.remote_id).status == (
        "validating_files"
    )


def test_concurrent_cancels_of_one_job_let_exactly_one_win(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=3600)
    job = create(provider, upload(provider).remote_id)
    instances = [make_provider(tmp_path) for _ in range(8)]

    def cancel(instance):
        try:
            return instance.cancel_job(job.remote_id).status
        except ProviderInputError:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(cancel, instances))
    assert sorted(outcomes) == ["cancelled"] + ["refused"] * 7


def test_concurrent_reads_of_a_succeeded_job_write_one_results_file(tmp_path):
    provider = make_provider(tmp_path, validate_seconds=0, queue_seconds=0, run_seconds=0.2)
    job = create(provider, upload(provider).remote_id)
    time.sleep(0.3)
    instances = [make_provider(tmp_path) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: p.retrieve_job(job.remote_id).result_files, instances))
    assert all(result == results[0] and len(result) == 1 for result in results)
    records = [json.loads(path.read_text()) for path in (tmp_path / "files").glob("*.json")]
    assert sorted(record["purpose"] for record in records) == ["fine-tune", "fine-tune-results"]


# ---- configuration ----------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"run_seconds": -1},
        {"queue_seconds": "soon"},
        {"validate_seconds": True},
        {"organization_id": 5},
    ],
)
def test_check_entry_rejects_bad_option_values(entry):
    with pytest.raises(ValueError):
        SandboxProvider.check_entry({"custom_llm_provider": "sandbox", **entry})


def test_check_entry_accepts_floats_and_zero():
    SandboxProvider.check_entry(
        {"custom_llm_provider": "sandbox", "validate_seconds": 0, "run_seconds": 0.5}
    )
