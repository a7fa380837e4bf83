"""The OpenAI and Azure OpenAI providers against mocked upstreams.

``TestWire`` runs every hook against three upstreams (OpenAI, Azure with a
dated api-version, Azure v1) and checks what goes out (method, URL with
query, headers, body) and what comes back; the contract every provider
passes is in ``test_openai_contract.py``. Azure's normalisations and
its dated-version limits follow.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import responses
from responses import matchers

from ftproxy.errors import (
    ProviderAuthError,
    ProviderFailure,
    ProviderInputError,
    ProviderNotSupported,
)
from ftproxy.providers.data import JobCreate
from ftproxy.providers.openai import AzureProvider, OpenAIProvider

from .upstreams import (
    AZURE_DATED,
    AZURE_V1,
    OPENAI,
    TRAINING,
    UPSTREAMS,
    Upstream,
    assert_auth_headers,
    error_body,
    expect,
    file_json,
    job_json,
    parse_multipart,
    upload,
)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture(params=UPSTREAMS, ids=lambda u: u.id)
def upstream(request) -> Upstream:
    return request.param


@pytest.fixture(params=[OPENAI, AZURE_V1], ids=lambda u: u.id)
def full_api_upstream(request) -> Upstream:
    return request.param


# --------------------------------------------------------------------------
# The contract: every hook, every upstream
# --------------------------------------------------------------------------


class TestWire:
    """What each hook sends and how the answer maps back, for OpenAI, Azure
    dated and Azure v1 alike (the shared provider contract runs in
    test_openai_contract.py)."""

    def test_upload_streams_multipart_purpose_expiry_and_file(self, mocked, upstream):
        seen = {}

        def answer(request):
            seen["request"] = request
            seen["parts"] = parse_multipart(request)
            # Azure answers an upload with 201 Created.
            status = 201 if upstream.azure else 200
            return status, {}, json.dumps(file_json(bytes=len(TRAINING)))

        mocked.add_callback(
            "POST",
            upstream.url("files"),
            callback=answer,
            match=[matchers.query_param_matcher(upstream.query, strict_match=True)],
        )
        expires = {"anchor": "created_at", "seconds": 3600} if upstream.full_api else None
        remote = upstream.provider().upload_file(upload(expires_after=expires))

        request, parts = seen["request"], seen["parts"]
        assert_auth_headers(request, upstream)
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert int(request.headers["Content-Length"]) > len(TRAINING)
        assert "Transfer-Encoding" not in request.headers
        assert parts["file"] == ("train.jsonl", "application/jsonl", TRAINING)
        assert parts["purpose"][2] == b"fine-tune"
        if upstream.full_api:
            assert parts["expires_after[anchor]"][2] == b"created_at"
            assert parts["expires_after[seconds]"][2] == b"3600"
            assert set(parts) == {
                "purpose",
                "expires_after[anchor]",
                "expires_after[seconds]",
                "file",
            }
        else:
            assert set(parts) == {"purpose", "file"}
        assert remote.remote_id == "file-abc123"
        assert (remote.filename, remote.purpose, remote.bytes) == (
            "train.jsonl",
            "fine-tune",
            len(TRAINING),
        )
        assert remote.created_at == 1700000000
        assert remote.status == "processed"

    def test_retrieve_file_maps_every_field_and_keeps_raw(self, mocked, upstream):
        answer = file_json(expires_at=1700003600, status_details=None)
        rsp = expect(mocked, upstream, "GET", "files/file-abc123", body=answer)

        remote = upstream.provider().retrieve_file("file-abc123")

        assert_auth_headers(rsp.calls[0].request, upstream)
        assert remote.remote_id == "file-abc123"
        assert remote.expires_at == 1700003600
        assert remote.raw == answer

    def test_delete_file_sends_delete(self, mocked, upstream):
        rsp = expect(
            mocked,
            upstream,
            "DELETE",
            "files/file-abc123",
            body={"id": "file-abc123", "object": "file", "deleted": True},
        )
        assert upstream.provider().delete_file("file-abc123") is None
        assert_auth_headers(rsp.calls[0].request, upstream)

    def test_delete_answered_with_deleted_false_is_a_failure(self, mocked, upstream):
        expect(mocked, upstream, "DELETE", "files/file-abc123", body={"id": "x", "deleted": False})
        with pytest.raises(ProviderFailure):
            upstream.provider().delete_file("file-abc123")

    def test_file_content_streams_bytes_type_and_length(self, mocked, upstream):
        payload = os.urandom(200_000)
        rsp = mocked.add(
            "GET",
            upstream.url("files/file-abc123/content"),
            body=payload,
            content_type="application/octet-stream",
            headers={"Content-Length": str(len(payload))},
            match=[matchers.query_param_matcher(upstream.query, strict_match=True)],
        )
        content = upstream.provider().file_content("file-abc123")
        chunks = list(content.chunks)
        content.close()

        request = rsp.calls[0].request
        assert_auth_headers(request, upstream)
        assert request.headers["Accept-Encoding"] == "identity"
        assert b"".join(chunks) == payload
        assert max(len(c) for c in chunks) <= 64 * 1024
        assert content.content_type == "application/octet-stream"
        assert content.length == len(payload)

    def test_create_job_sends_every_field_that_is_set(self, mocked, full_api_upstream):
        # Dated Azure takes a reduced body: see TestAzureDatedJobBody.
        upstream = full_api_upstream
        job = JobCreate(
            model="gpt-4o-mini-2024-07-18",
            training_file="file-abc123",
            validation_file="file-val",
            hyperparameters={"n_epochs": 2},
            method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
            suffix="mine",
            seed=7,
            integrations=[{"type": "wandb", "wandb": {"project": "p"}}],
            metadata={"team": "search"},
        )
        sent = {
            "model": "gpt-4o-mini-2024-07-18",
            "training_file": "file-abc123",
            "validation_file": "file-val",
            "hyperparameters": {"n_epochs": 2},
            "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
            "suffix": "mine",
            "seed": 7,
            "integrations": [{"type": "wandb", "wandb": {"project": "p"}}],
            "metadata": {"team": "search"},
        }
        answer = job_json(metadata={"team": "search"}, suffix="mine", seed=7)
        rsp = expect(mocked, upstream, "POST", "fine_tuning/jobs", body=answer, json_body=sent)

        remote = upstream.provider().create_job(job)

        assert_auth_headers(rsp.calls[0].request, upstream)
        assert rsp.calls[0].request.headers["Content-Type"] == "application/json"
        assert remote.metadata == {"team": "search"}
        assert (remote.suffix, remote.seed) == ("mine", 7)

    def test_create_job_sends_only_the_fields_that_are_set(self, mocked, upstream):
        sent = {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-abc123"}
        expect(mocked, upstream, "POST", "fine_tuning/jobs", body=job_json(), json_body=sent)
        upstream.provider().create_job(
            JobCreate(model="gpt-4o-mini-2024-07-18", training_file="file-abc123")
        )

    def test_retrieve_job_maps_the_answer(self, mocked, upstream):
        answer = job_json(
            status="succeeded",
            fine_tuned_model="ft:gpt-4o-mini:org:mine:abc",
            finished_at=1700009999,
            trained_tokens=12345,
            result_files=["file-result"],
            estimated_finish=None,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
            integrations=[],
        )
        rsp = expect(mocked, upstream, "GET", "fine_tuning/jobs/ftjob-abc123", body=answer)

        job = upstream.provider().retrieve_job("ftjob-abc123")

        assert_auth_headers(rsp.calls[0].request, upstream)
        assert (job.remote_id, job.status, job.raw_status, job.terminal) == (
            "ftjob-abc123",
            "succeeded",
            "succeeded",
            True,
        )
        assert job.model == "gpt-4o-mini-2024-07-18"
        assert job.fine_tuned_model == "ft:gpt-4o-mini:org:mine:abc"
        assert (job.finished_at, job.trained_tokens) == (1700009999, 12345)
        assert job.result_files == ["file-result"]
        assert job.training_file == "file-abc123"
        assert job.hyperparameters["n_epochs"] == 3
        assert job.method["type"] == "supervised"
        assert job.organization_id == "org-123"
        assert job.error is None
        assert job.raw == answer

    def test_failed_job_keeps_its_error(self, mocked, upstream):
        error = {"code": "invalid_training_file", "message": "bad line 3", "param": "training_file"}
        expect(
            mocked,
            upstream,
            "GET",
            "fine_tuning/jobs/ftjob-1",
            body=job_json(status="failed", error=error),
        )
        assert upstream.provider().retrieve_job("ftjob-1").error == error

    def test_cancel_posts_to_cancel(self, mocked, upstream):
        rsp = expect(
            mocked,
            upstream,
            "POST",
            "fine_tuning/jobs/ftjob-1/cancel",
            body=job_json(id="ftjob-1", status="cancelled"),
        )
        job = upstream.provider().cancel_job("ftjob-1")
        assert_auth_headers(rsp.calls[0].request, upstream)
        assert (job.status, job.terminal) == ("cancelled", True)

    @pytest.mark.parametrize("action,status", [("pause", "paused"), ("resume", "queued")])
    def test_pause_and_resume_post_to_their_action(self, mocked, upstream, action, status):
        provider = upstream.provider()
        hook = getattr(provider, f"{action}_job")
        if not upstream.full_api:
            with pytest.raises(ProviderNotSupported) as info:
                hook("ftjob-1")
            assert info.value.status_code == 400
            assert "api-version 2024-10-21" in info.value.message
            assert "api_version: v1" in info.value.message
            return  # and nothing was sent: the mock has no registered call
        rsp = expect(
            mocked,
            upstream,
            "POST",
            f"fine_tuning/jobs/ftjob-1/{action}",
            body=job_json(id="ftjob-1", status=status),
        )
        job = hook("ftjob-1")
        assert_auth_headers(rsp.calls[0].request, upstream)
        assert (job.status, job.terminal) == (status, False)

    def test_events_pass_after_and_limit_and_read_has_more(self, mocked, upstream):
        answer = {
            "object": "list",
            "has_more": True,
            "data": [
                {
                    "object": "fine_tuning.job.event",
                    "id": "ftevent-2",
                    "created_at": 1700000200,
                    "level": "info",
                    "message": "Step 10/100: training loss=0.5",
                    "type": "metrics",
                    "data": {"step": 10, "train_loss": 0.5},
                },
                {
                    "object": "fine_tuning.job.event",
                    "id": "ftevent-1",
                    "created_at": 1700000100,
                    "level": "info",
                    "message": "Job started",
                },
            ],
        }
        rsp = expect(
            mocked,
            upstream,
            "GET",
            "fine_tuning/jobs/ftjob-1/events",
            body=answer,
            query={"after": "ftevent-3", "limit": "2"},
        )

        page = upstream.provider().list_job_events("ftjob-1", "ftevent-3", 2)

        assert_auth_headers(rsp.calls[0].request, upstream)
        assert page.has_more is True
        assert [e.id for e in page.items] == ["ftevent-2", "ftevent-1"]
        first, second = page.items
        assert (first.type, first.data, first.level) == (
            "metrics",
            {"step": 10, "train_loss": 0.5},
            "info",
        )
        assert (second.type, second.message, second.created_at) == (
            "message",
            "Job started",
            1700000100,
        )

    def test_events_without_after_send_only_limit(self, mocked, upstream):
        expect(
            mocked,
            upstream,
            "GET",
            "fine_tuning/jobs/ftjob-1/events",
            body={"object": "list", "data": [], "has_more": False},
            query={"limit": "20"},
        )
        page = upstream.provider().list_job_events("ftjob-1", None, 20)
        assert (page.items, page.has_more) == ([], False)

    def test_checkpoints_pass_after_and_limit_and_map_metrics(self, mocked, upstream):
        answer = {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "object": "fine_tuning.job.checkpoint",
                    "id": "ftckpt-1",
                    "created_at": 1700000300,
                    "fine_tuning_job_id": "ftjob-1",
                    "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:org::abc:ckpt-step-10",
                    "step_number": 10,
                    "metrics": {"step": 10, "train_loss": 0.25},
                },
            ],
        }
        rsp = expect(
            mocked,
            upstream,
            "GET",
            "fine_tuning/jobs/ftjob-1/checkpoints",
            body=answer,
            query={"after": "ftckpt-9", "limit": "5"},
        )

        page = upstream.provider().list_job_checkpoints("ftjob-1", "ftckpt-9", 5)

        assert_auth_headers(rsp.calls[0].request, upstream)
        assert page.has_more is False
        (ckpt,) = page.items
        assert (ckpt.id, ckpt.step_number, ckpt.created_at) == ("ftckpt-1", 10, 1700000300)
        assert ckpt.fine_tuned_model_checkpoint == "ft:gpt-4o-mini:org::abc:ckpt-step-10"
        assert ckpt.metrics == {"step": 10, "train_loss": 0.25}

    def test_ids_are_sent_as_one_path_segment(self, mocked, upstream):
        expect(mocked, upstream, "GET", "files/odd%2Fid%3F", body=file_json(id="odd/id?"))
        assert upstream.provider().retrieve_file("odd/id?").remote_id == "odd/id?"

    def test_malformed_success_answer_is_a_502(self, mocked, upstream):
        mocked.add("GET", upstream.url("fine_tuning/jobs/ftjob-1"), body="<html>oops</html>")
        with pytest.raises(ProviderFailure) as info:
            upstream.provider().retrieve_job("ftjob-1")
        assert info.value.status_code == 502

    def test_answer_without_an_id_is_a_502(self, mocked, upstream):
        expect(mocked, upstream, "GET", "files/file-1", body={"object": "file"})
        with pytest.raises(ProviderFailure):
            upstream.provider().retrieve_file("file-1")


# --------------------------------------------------------------------------
# Upstream errors, every upstream
# --------------------------------------------------------------------------


class TestUpstreamErrors:
    """Each upstream status maps to the gateway's answer (docs/api.md, provider failures)."""

    def test_400_is_passed_on_with_message_param_and_code(self, mocked, upstream):
        expect(
            mocked,
            upstream,
            "POST",
            "fine_tuning/jobs",
            status=400,
            body=error_body(
                upstream,
                "Model gpt-x is not available for fine-tuning",
                param="model",
                code="model_not_available",
            ),
        )
        with pytest.raises(ProviderInputError) as info:
            upstream.provider().create_job(JobCreate(model="gpt-x", training_file="file-1"))
        err = info.value
        assert (err.status_code, err.upstream_status) == (400, 400)
        assert err.message == "Model gpt-x is not available for fine-tuning"
        assert (err.param, err.code) == ("model", "model_not_available")
        assert err.type == "invalid_request_error"

    def test_other_4xx_keep_their_status(self, mocked, upstream):
        expect(
            mocked,
            upstream,
            "POST",
            "files/file-1/content",
            status=422,
            body=error_body(upstream, "unprocessable"),
        )
        with pytest.raises(ProviderInputError) as info:
            upstream.provider().client.json("POST", "files/file-1/content")
        assert info.value.status_code == 422

    @pytest.mark.parametrize("status", [401, 403])
    def test_rejected_credentials_are_a_502_that_says_so(self, mocked, upstream, status):
        expect(
            mocked,
            upstream,
            "GET",
            "fine_tuning/jobs/ftjob-1",
            status=status,
            body=error_body(upstream, "Incorrect API key provided"),
        )
        with pytest.raises(ProviderAuthError) as info:
            upstream.provider().retrieve_job("ftjob-1")
        err = info.value
        assert (err.status_code, err.upstream_status) == (502, status)
        assert "rejected the gateway's credentials" in err.message
        assert "secret" not in err.message


# --------------------------------------------------------------------------
# Azure: answers normalised to OpenAI's shapes
# --------------------------------------------------------------------------


@pytest.fixture(params=[AZURE_DATED, AZURE_V1], ids=lambda u: u.id)
def azure(request) -> Upstream:
    return request.param


class TestAzureNormalisation:
    @pytest.mark.parametrize("raw", ["created", "pending", "notRunning"])
    def test_not_yet_running_statuses_read_as_queued_and_keep_azures_word(self, mocked, azure, raw):
        expect(mocked, azure, "GET", "fine_tuning/jobs/ftjob-1", body=job_json(status=raw))
        job = azure.provider().retrieve_job("ftjob-1")
        assert (job.status, job.raw_status, job.terminal) == ("queued", raw, False)
        assert job.raw["status"] == raw

    def test_organisation_id_is_read_as_organization_id(self, mocked, azure):
        answer = job_json(organisation_id="org-azure")
        del answer["organization_id"]
        expect(mocked, azure, "GET", "fine_tuning/jobs/ftjob-1", body=answer)
        job = azure.provider().retrieve_job("ftjob-1")
        assert job.organization_id == "org-azure"
        assert job.raw == answer  # raw stays as Azure said it

    def test_event_level_warning_is_read_as_warn(self, mocked, azure):
        expect(
            mocked,
            azure,
            "GET",
            "fine_tuning/jobs/ftjob-1/events",
            query={"limit": "10"},
            body={
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": "ev-1",
                        "created_at": 1,
                        "level": "warning",
                        "message": "slow",
                        "type": "message",
                    }
                ],
            },
        )
        (event,) = azure.provider().list_job_events("ftjob-1", None, 10).items
        assert event.level == "warn"

    @pytest.mark.parametrize("raw", ["pending", "running"])
    def test_files_being_validated_read_as_uploaded(self, mocked, azure, raw):
        expect(mocked, azure, "GET", "files/file-1", body=file_json(id="file-1", status=raw))
        remote = azure.provider().retrieve_file("file-1")
        assert remote.status == "uploaded"
        assert remote.raw["status"] == raw

    def test_dated_list_without_has_more_reads_as_last_page(self, mocked):
        expect(
            mocked,
            AZURE_DATED,
            "GET",
            "fine_tuning/jobs/ftjob-1/checkpoints",
            query={"limit": "10"},
            body={"object": "list", "data": []},
        )
        assert AZURE_DATED.provider().list_job_checkpoints("ftjob-1", None, 10).has_more is False

    def test_azure_error_code_and_target_are_passed_on(self, mocked):
        expect(
            mocked,
            AZURE_DATED,
            "POST",
            "fine_tuning/jobs",
            status=400,
            body={
                "error": {
                    "code": "invalidPayload",
                    "message": "The specified base model does not support fine-tuning.",
                    "target": "model",
                    "details": [],
                    "innererror": None,
                }
            },
        )
        with pytest.raises(ProviderInputError) as info:
            AZURE_DATED.provider().create_job(JobCreate(model="gpt-4", training_file="file-1"))
        err = info.value
        assert (err.status_code, err.code, err.param) == (400, "invalidPayload", "model")
        assert err.message.startswith("The specified base model")


# --------------------------------------------------------------------------
# Azure dated versions: the reduced job body, and what they cannot carry
# --------------------------------------------------------------------------


class TestAzureDatedJobBody:
    def create(self, mocked, sent: dict[str, Any], **fields: Any):
        expect(
            mocked,
            AZURE_DATED,
            "POST",
            "fine_tuning/jobs",
            status=201,
            body=job_json(status="pending"),
            json_body=sent,
        )
        return AZURE_DATED.provider().create_job(
            JobCreate(model="gpt-4o-mini", training_file="file-1", **fields)
        )

    def test_supervised_method_hyperparameters_are_flattened_to_the_top(self, mocked):
        job = self.create(
            mocked,
            {
                "model": "gpt-4o-mini",
                "training_file": "file-1",
                "validation_file": "file-2",
                "suffix": "mine",
                "seed": 3,
                "hyperparameters": {
                    "n_epochs": 2,
                    "batch_size": 4,
                    "learning_rate_multiplier": 0.1,
                },
            },
            validation_file="file-2",
            suffix="mine",
            seed=3,
            method={
                "type": "supervised",
                "supervised": {
                    "hyperparameters": {
                        "n_epochs": 2,
                        "batch_size": 4,
                        "learning_rate_multiplier": 0.1,
                    }
                },
            },
        )
        assert (job.status, job.raw_status) == ("queued", "pending")  # and 201 is a success

    def test_top_level_and_method_hyperparameters_merge(self, mocked):
        self.create(
            mocked,
            {
                "model": "gpt-4o-mini",
                "training_file": "file-1",
                "hyperparameters": {"n_epochs": 2, "batch_size": 4},
            },
            hyperparameters={"n_epochs": 2},
            method={"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 4}}},
        )

    def test_auto_hyperparameters_are_left_to_the_service(self, mocked):
        self.create(
            mocked,
            {"model": "gpt-4o-mini", "training_file": "file-1", "hyperparameters": {"n_epochs": 3}},
            hyperparameters={"n_epochs": 3, "batch_size": "auto"},
            method={
                "type": "supervised",
                "supervised": {"hyperparameters": {"learning_rate_multiplier": "auto"}},
            },
        )

    def test_empty_metadata_and_integrations_say_nothing_and_are_left_out(self, mocked):
        self.create(
            mocked,
            {"model": "gpt-4o-mini", "training_file": "file-1"},
            metadata={},
            integrations=[],
        )

    def test_conflicting_hyperparameters_are_a_400_naming_the_field(self, mocked):
        with pytest.raises(ProviderInputError) as info:
            AZURE_DATED.provider().create_job(
                JobCreate(
                    model="m",
                    training_file="file-1",
                    hyperparameters={"n_epochs": 2},
                    method={
                        "type": "supervised",
                        "supervised": {"hyperparameters": {"n_epochs": 5}},
                    },
                )
            )
        assert info.value.status_code == 400
        assert info.value.param == "method.supervised.hyperparameters.n_epochs"

    @pytest.mark.parametrize(
        "fields,param",
        [
            ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]}, "integrations"),
            ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}}, "method.type"),
            ({"method": {"type": "reinforcement", "reinforcement": {"grader": {}}}}, "method.type"),
        ],
        ids=["integrations", "dpo", "reinforcement"],
    )
    def test_fields_the_dated_api_lacks_are_refused_not_dropped(self, mocked, fields, param):
        with pytest.raises(ProviderNotSupported) as info:
            AZURE_DATED.provider().create_job(
                JobCreate(model="m", training_file="file-1", **fields)
            )
        err = info.value
        assert (err.status_code, err.param) == (400, param)
        assert "api-version 2024-10-21" in err.message
        assert "api_version: v1" in err.message
        assert not mocked.calls

    def test_expires_after_on_upload_is_refused_on_dated_versions(self, mocked):
        with pytest.raises(ProviderNotSupported) as info:
            AZURE_DATED.provider().upload_file(
                upload(expires_after={"anchor": "created_at", "seconds": 3600})
            )
        assert (info.value.status_code, info.value.param) == (400, "expires_after")
        assert "api_version: v1" in info.value.message
        assert not mocked.calls


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


class TestConfiguration:
    def test_openai_defaults_to_the_public_api(self, mocked):
        mocked.add("GET", "https://api.openai.com/v1/files/file-1", json=file_json(id="file-1"))
        provider = OpenAIProvider({"custom_llm_provider": "openai", "api_key": "sk-x"})
        provider.retrieve_file("file-1")
        headers = mocked.calls[0].request.headers
        assert headers["Authorization"] == "Bearer sk-x"
        assert "OpenAI-Organization" not in headers and "OpenAI-Project" not in headers

    @pytest.mark.parametrize(
        "api_base",
        [
            "https://my-res.openai.azure.com/",
            "https://my-res.openai.azure.com/openai",
            "https://my-res.openai.azure.com/openai/v1/",
        ],
    )
    def test_azure_api_base_may_carry_the_sdk_suffix(self, mocked, api_base):
        expect(mocked, AZURE_DATED, "GET", "files/file-1", body=file_json(id="file-1"))
        AZURE_DATED.provider(api_base=api_base).retrieve_file("file-1")

    def test_azure_dated_version_goes_in_the_query(self, mocked):
        mocked.add(
            "GET",
            "https://my-res.openai.azure.com/openai/files/file-1",
            json=file_json(id="file-1"),
            match=[matchers.query_param_matcher({"api-version": "2025-04-01-preview"})],
        )
        AZURE_DATED.provider(api_version="2025-04-01-preview").retrieve_file("file-1")

    def test_azure_api_version_read_by_yaml_as_a_date_is_understood(self, mocked):
        import datetime

        provider = AZURE_DATED.provider(api_version=datetime.date(2024, 10, 21))
        assert provider.client.params == {"api-version": "2024-10-21"}
        AzureProvider.check_entry({**AZURE_DATED.entry, "api_version": datetime.date(2024, 10, 21)})

    @pytest.mark.parametrize("version", ["latest", "2024-10", "V2"])
    def test_azure_rejects_an_unknown_api_version_naming_the_key(self, version):
        with pytest.raises(ValueError, match="api_version"):
            AzureProvider.check_entry({**AZURE_DATED.entry, "api_version": version})

    def test_azure_rejects_an_api_base_that_is_not_a_url(self):
        with pytest.raises(ValueError, match="api_base"):
            AzureProvider.check_entry({**AZURE_DATED.entry, "api_base": "my-res"})

    def test_repr_never_shows_the_key(self):
        assert "secret" not in repr(OPENAI.provider()) + repr(AZURE_DATED.provider())
