"""Jobs across providers: a file uploaded to one entry trains on another.

The upstreams are played by ``responses``: OpenAI (where the file is
uploaded), Vertex AI with Cloud Storage, and Azure OpenAI (where it trains).
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
import responses
from django.db import IntegrityError, transaction
from django.utils import timezone
from requests_toolbelt import MultipartDecoder

from ftproxy.models import File, FineTuningJob, JobEvent, LedgerState
from tests.conftest import TRAINING, chat_line, jsonl
from tests.providers.vertex.helpers import BUCKET
from tests.services import cross_provider
from tests.services.cross_provider import AZURE, CONTENT, Upstreams, create, upload

pytestmark = pytest.mark.django_db

upstreams, alice = cross_provider.upstreams, cross_provider.alice  # fixtures


def test_a_file_uploaded_to_openai_trains_on_vertex_and_one_copy_serves_later_jobs(
    upstreams, alice
):
    file_id = upload(alice)
    response = create(alice, "vertex_ai", training_file=file_id, suffix="bot")
    assert response.status_code == 200, response.content
    job = response.json()
    assert job["training_file"] == file_id  # the user's id, not the copy's
    assert job["status"] == "queued"

    original = File.objects.get(public_id=file_id)
    copy = File.objects.get(copied_from=original)
    assert (copy.provider, copy.owner, copy.ledger_state) == ("vertex_ai", original.owner, "ok")
    assert copy.sha256 == original.sha256 and copy.bytes == len(TRAINING)
    assert re.fullmatch(
        rf"gs://{BUCKET}/team-a/ftproxy/[0-9a-f]{{32}}/gemini/train.jsonl", copy.remote_id
    )
    # The user's bytes and the Gemini conversion, each streamed to Cloud Storage.
    assert upstreams.gcs_puts[0] == TRAINING
    gemini = [json.loads(line) for line in upstreams.gcs_puts[1].splitlines()]
    assert len(gemini) == 10
    assert gemini[0]["contents"][0] == {"role": "user", "parts": [{"text": "q0"}]}
    assert gemini[0]["contents"][1] == {"role": "model", "parts": [{"text": "a0"}]}
    spec = upstreams.tuning_jobs[0]["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"] == copy.remote_id

    events = alice.get(f"/v1/fine_tuning/jobs/{job['id']}/events").json()["data"]
    note = events[-1]
    assert note["data"]["source"] == "copy"
    assert f"training_file {file_id} lives on 'openai'" in note["message"]
    assert f"copied it to 'vertex_ai' as {copy.public_id}" in note["message"]
    assert copy.remote_id in note["message"]

    # A second job, validation file too: the copy is reused, nothing is moved again.
    again = create(alice, "vertex_ai", training_file=file_id, validation_file=file_id)
    assert again.status_code == 200, again.content
    assert again.json()["validation_file"] == file_id
    assert upstreams.downloads() == 1 and len(upstreams.gcs_puts) == 2
    spec = upstreams.tuning_jobs[1]["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"] == spec["validationDatasetUri"] == copy.remote_id
    assert File.objects.filter(copied_from=original).count() == 1
    messages = JobEvent.objects.filter(
        job__public_id=again.json()["id"], source="copy"
    ).values_list("message", flat=True)
    assert sorted(m.split(" ")[0] for m in messages) == ["training_file", "validation_file"]
    assert all(f"reused its copy on 'vertex_ai' as {copy.public_id}" in m for m in messages)

    # Naming the copy's id for a job on openai uses the original itself.
    back = create(alice, "openai", model="gpt-4o-mini", training_file=copy.public_id)
    assert back.status_code == 200, back.content
    assert upstreams.openai_jobs[0]["training_file"] == file_id
    assert File.objects.filter(copied_from__isnull=False).count() == 1


def test_a_file_uploaded_to_openai_trains_on_azure_with_provider_events_and_the_copy_event(
    upstreams, alice
):
    file_id = upload(alice)
    response = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 200, response.content
    job = response.json()
    assert (job["id"], job["training_file"], job["status"]) == ("ftjob-az-1", file_id, "queued")
    ((content_type, sent),) = upstreams.azure_uploads
    parts = MultipartDecoder(sent, content_type).parts
    assert parts[-1].content == TRAINING  # byte for byte, no conversion for Azure
    assert upstreams.azure_jobs[0]["training_file"] == "file-az-1"
    copy = File.objects.get(public_id="file-az-1")
    assert copy.copied_from.public_id == file_id and copy.provider == "azure"

    events = alice.get(f"/v1/fine_tuning/jobs/{job['id']}/events", {"limit": 1}).json()
    assert [e["id"] for e in events["data"]] == ["ftevent-az-2"] and events["has_more"]
    rest = alice.get(
        f"/v1/fine_tuning/jobs/{job['id']}/events", {"limit": 5, "after": "ftevent-az-2"}
    ).json()
    (note,) = rest["data"]
    assert not rest["has_more"]
    assert "copied it to 'azure' as file-az-1" in note["message"]

    second = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert second.status_code == 200, second.content
    assert len(upstreams.azure_uploads) == 1 and upstreams.downloads() == 1
    assert upstreams.azure_jobs[1]["training_file"] == "file-az-1"


def _no_job_upstream(upstreams: Upstreams) -> None:
    assert upstreams.tuning_jobs == [] and upstreams.azure_jobs == []
    job = FineTuningJob.objects.get()
    assert job.ledger_state == LedgerState.FAILED and job.remote_id is None
    assert not job.reached_provider  # the create itself was never sent


def test_a_failed_download_names_the_step_and_creates_no_job(upstreams, alice):
    file_id = upload(alice)
    upstreams.rsps.replace(responses.GET, CONTENT, status=500, json={"error": {"message": "x"}})
    response = create(alice, "vertex_ai", training_file=file_id)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["param"] == "training_file"
    assert error["message"].startswith(
        f"training_file: copying {file_id} from 'openai' to 'vertex_ai' failed while "
        "downloading it from 'openai': "
    )
    assert upstreams.gcs_puts == []
    _no_job_upstream(upstreams)
    copy = File.objects.get(copied_from__public_id=file_id)
    assert copy.ledger_state == LedgerState.FAILED and "downloading" in copy.ledger_error

    # The failed copy does not block a later attempt.
    upstreams.rsps.replace(responses.GET, CONTENT, body=TRAINING)
    assert create(alice, "vertex_ai", training_file=file_id).status_code == 200
    assert File.objects.filter(copied_from__public_id=file_id, ledger_state="ok").count() == 1


def test_a_file_vertex_cannot_take_fails_validation_for_vertex_with_nothing_uploaded(
    upstreams, alice
):
    line = chat_line()
    line["messages"][2]["weight"] = 0  # fine on OpenAI; Gemini tuning has no per-turn weight
    content = jsonl(line, chat_line("q", "a"))
    upstreams.rsps.replace(responses.GET, CONTENT, body=content)
    file_id = upload(alice, content)
    response = create(alice, "vertex_ai", training_file=file_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "training_file"
    assert "failed while validating it for 'vertex_ai': Line 1:" in error["message"]
    assert "weight" in error["message"]
    assert upstreams.gcs_puts == []
    _no_job_upstream(upstreams)


def test_a_failed_upload_to_the_target_names_the_step_and_creates_no_job(upstreams, alice):
    file_id = upload(alice)
    upstreams.rsps.replace(responses.POST, f"{AZURE}/files", status=503, json={})
    response = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "failed while uploading it to 'azure': " in message
    _no_job_upstream(upstreams)


def test_a_method_the_target_cannot_take_is_refused_before_anything_is_copied(upstreams, alice):
    file_id = upload(alice)
    response = create(
        alice,
        "azure-dated",
        model="gpt-4o-mini-2024-07-18",
        training_file=file_id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "method.type"
    assert upstreams.downloads() == 0
    assert not File.objects.filter(copied_from__isnull=False).exists()
    assert not FineTuningJob.objects.exists()


def test_an_entry_without_a_files_entry_of_its_name_cannot_receive_a_copy(upstreams, alice):
    file_id = upload(alice)
    response = create(alice, "vertex-eu", training_file=file_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "training_file"
    assert "files entry 'vertex-eu'" in error["message"]
    assert upstreams.downloads() == 0


def test_another_keys_file_is_not_copied(upstreams, alice, api_as, make_key):
    file_id = upload(alice)
    bob = api_as(make_key("bob"))
    response = create(bob, "vertex_ai", training_file=file_id)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"
    assert "no such file" in response.json()["error"]["message"]
    assert bob.get(f"/v1/files/{file_id}").status_code == 404
    assert upstreams.downloads() == 0 and upstreams.gcs_puts == []


def _pending_copy(original: File, *, age: timedelta = timedelta(0)) -> File:
    return File.objects.create(
        public_id="file-pending-copy",
        provider="vertex_ai",
        provider_kind="vertex_ai",
        owner=original.owner,
        filename=original.filename,
        purpose="fine-tune",
        created_at=0,
        created=timezone.now() - age,
        copied_from=original,
        ledger_state=LedgerState.PENDING,
    )


def test_one_live_copy_per_file_and_entry_is_a_database_constraint(upstreams, alice):
    original = File.objects.get(public_id=upload(alice))
    _pending_copy(original)
    with pytest.raises(IntegrityError), transaction.atomic():
        File.objects.create(
            public_id="file-second-copy",
            provider="vertex_ai",
            provider_kind="vertex_ai",
            filename="t.jsonl",
            purpose="fine-tune",
            created_at=0,
            copied_from=original,
        )


def test_a_copy_in_flight_elsewhere_asks_to_retry_and_moves_nothing(upstreams, alice):
    original = File.objects.get(public_id=upload(alice))
    _pending_copy(original)
    response = create(alice, "vertex_ai", training_file=original.public_id)
    assert response.status_code == 409  # the SDK retries it by itself
    assert "being copied to 'vertex_ai' by another request" in response.json()["error"]["message"]
    assert upstreams.downloads() == 0 and upstreams.gcs_puts == []


def test_a_copy_abandoned_long_ago_is_given_up_and_made_again(upstreams, alice):
    original = File.objects.get(public_id=upload(alice))
    stale = _pending_copy(original, age=timedelta(hours=1))
    response = create(alice, "vertex_ai", training_file=original.public_id)
    assert response.status_code == 200, response.content
    stale.refresh_from_db()
    assert stale.ledger_state == LedgerState.FAILED and "abandoned" in stale.ledger_error
    assert File.objects.get(copied_from=original, ledger_state="ok").pk != stale.pk


def _azure_file(status: str, **extra) -> dict:
    return {"id": "file-az-1", "object": "file", "purpose": "fine-tune", "status": status, **extra}


def test_a_copy_azure_is_still_importing_is_awaited_before_the_job(upstreams, alice):
    upstreams.azure_file_status = "pending"
    upstreams.rsps.add(responses.GET, f"{AZURE}/files/file-az-1", json=_azure_file("processed"))
    file_id = upload(alice)
    response = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 200, response.content
    assert File.objects.get(public_id="file-az-1").status == "processed"
    assert upstreams.azure_jobs[0]["training_file"] == "file-az-1"


def test_a_copy_azure_rejects_after_import_is_removed_and_creates_no_job(upstreams, alice):
    upstreams.azure_file_status = "pending"
    details = "Line 2: invalid message role"
    upstreams.rsps.add(
        responses.GET,
        f"{AZURE}/files/file-az-1",
        json=_azure_file("error", status_details=details),
    )
    deleted = upstreams.rsps.add(
        responses.DELETE, f"{AZURE}/files/file-az-1", json={"id": "file-az-1", "deleted": True}
    )
    file_id = upload(alice)
    response = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert (
        f"failed while validating it for 'azure': 'azure' rejected the file: {details}" in message
    )
    assert deleted.call_count == 1
    copy = File.objects.get(copied_from__public_id=file_id)
    assert (copy.ledger_state, copy.remote_id) == (LedgerState.FAILED, "file-az-1")
    _no_job_upstream(upstreams)


def test_a_file_of_the_same_kind_without_a_files_entry_there_is_used_as_it_is(upstreams, alice):
    uploaded = alice.upload(TRAINING, extra={"custom_llm_provider": "vertex_ai"})
    assert uploaded.status_code == 200, uploaded.content
    row = File.objects.get(public_id=uploaded.json()["id"])
    response = create(alice, "vertex-eu", training_file=row.public_id)
    assert response.status_code == 200, response.content
    assert upstreams.tuning_jobs[0]["supervisedTuningSpec"]["trainingDatasetUri"] == row.remote_id
    assert not File.objects.filter(copied_from__isnull=False).exists()


def test_vertex_refuses_what_it_cannot_take_before_anything_is_copied(upstreams, alice):
    file_id = upload(alice)
    response = create(alice, "vertex_ai", training_file=file_id, seed=7)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seed"
    assert upstreams.downloads() == 0 and upstreams.gcs_puts == []
    assert not File.objects.filter(copied_from__isnull=False).exists()


PREFERENCE_LINE = {
    "input": {"messages": [{"role": "user", "content": "Capital of France?"}]},
    "preferred_output": [{"role": "assistant", "content": "Paris."}],
    "non_preferred_output": [{"role": "assistant", "content": "Lyon."}],
}
DPO = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2, "n_epochs": 2}}}


@pytest.fixture
def preference_upstreams(gateway_config):
    gateway_config(cross_provider.entries())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Upstreams(rsps, content=jsonl(*[PREFERENCE_LINE] * 10))


def test_a_dpo_file_uploaded_to_openai_trains_dpo_on_vertex_and_on_retrain(
    preference_upstreams, alice
):
    from django.core.management import call_command

    upstreams = preference_upstreams
    file_id = upload(alice, jsonl(*[PREFERENCE_LINE] * 10))  # OpenAI needs 10 examples
    response = create(alice, "vertex_ai", training_file=file_id, method=DPO)
    assert response.status_code == 200, response.content
    assert response.json()["method"]["type"] == "dpo"
    copy = File.objects.get(copied_from__public_id=file_id)
    assert "/gemini-preference/" in copy.remote_id
    (converted, *_) = [json.loads(line) for line in upstreams.gcs_puts[1].splitlines()]
    assert converted["completions"][0] == {
        "score": 1,
        "completion": {"role": "model", "parts": [{"text": "Paris."}]},
    }
    (body,) = upstreams.tuning_jobs
    assert "supervisedTuningSpec" not in body
    assert body["preferenceOptimizationSpec"] == {
        "trainingDatasetUri": copy.remote_id,
        "hyperParameters": {"beta": 0.2, "epochCount": 2},
    }

    # The same DPO job, asked for on OpenAI, retrained on Vertex AI: the copy serves.
    on_openai = create(
        alice, "openai", model="gpt-4o-mini-2024-07-18", training_file=file_id, method=DPO
    )
    assert on_openai.status_code == 200, on_openai.content
    call_command(
        "ftproxy_retrain",
        on_openai.json()["id"],
        "--provider",
        "vertex_ai",
        "--model",
        cross_provider.GEMINI,
        stdout=io.StringIO(),
    )
    assert (
        upstreams.tuning_jobs[1]["preferenceOptimizationSpec"] == body["preferenceOptimizationSpec"]
    )
    assert upstreams.downloads() == 1


def test_an_entra_signed_azure_entry_receives_a_copy_and_a_tiered_job_with_bearer_only(
    gateway_config, alice, monkeypatch
):
    from tests.providers.openai.test_azure_entra import CLIENT_SECRET, play_authority, tenant

    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    tenant_id = tenant()
    entra = {
        "custom_llm_provider": "azure",
        "name": "azure-entra",
        "api_base": "https://entra-copy.openai.azure.com",
        "api_version": "v1",
        "tenant_id": tenant_id,
        "client_id": "app-1",
        "client_secret": CLIENT_SECRET,
        "max_retries": 0,
    }
    openai = {**cross_provider.entries()["files_settings"][0]}
    gateway_config({"finetune_settings": [entra], "files_settings": [openai, entra]})
    base = "https://entra-copy.openai.azure.com/openai/v1"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Upstreams(rsps)  # OpenAI, where the file is uploaded
        play_authority(rsps, "login.microsoftonline.com", tenant_id, token="entra-copy-token")
        uploaded = {"id": "file-entra", "object": "file", "status": "processed"}
        upload_call = rsps.add(responses.POST, f"{base}/files", json=uploaded)
        job_answer = {
            "id": "ftjob-entra",
            "object": "fine_tuning.job",
            "created_at": 1_700_000_100,
            "model": "gpt-4.1-mini",
            "status": "pending",
            "training_file": "file-entra",
            "trainingType": "GlobalStandard",
        }
        job_call = rsps.add(responses.POST, f"{base}/fine_tuning/jobs", json=job_answer)
        file_id = upload(alice)
        response = create(
            alice,
            "azure-entra",
            model="gpt-4.1-mini",
            training_file=file_id,
            trainingType="globalstandard",
        )
    assert response.status_code == 200, response.content
    assert (response.json()["training_file"], response.json()["trainingType"]) == (
        file_id,
        "GlobalStandard",
    )
    for call in (*upload_call.calls, *job_call.calls):
        assert call.request.headers["Authorization"] == "Bearer entra-copy-token"
        assert "api-key" not in call.request.headers
    assert json.loads(job_call.calls[0].request.body)["trainingType"] == "GlobalStandard"
    assert File.objects.get(public_id="file-entra").copied_from.public_id == file_id


def test_no_entra_token_for_the_copy_target_is_a_502_naming_the_step_without_the_secret(
    gateway_config, alice, monkeypatch
):
    from tests.providers.openai.test_azure_entra import CLIENT_SECRET, play_authority, tenant

    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    tenant_id = tenant()
    entra = {
        "custom_llm_provider": "azure",
        "name": "azure-entra",
        "api_base": "https://entra-copy.openai.azure.com",
        "api_version": "v1",
        "tenant_id": tenant_id,
        "client_id": "app-1",
        "client_secret": CLIENT_SECRET,
        "max_retries": 0,
    }
    openai = {**cross_provider.entries()["files_settings"][0]}
    gateway_config({"finetune_settings": [entra], "files_settings": [openai, entra]})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Upstreams(rsps)
        refusal = {"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}
        play_authority(rsps, "login.microsoftonline.com", tenant_id, status=401, body=refusal)
        file_id = upload(alice)
        response = create(alice, "azure-entra", model="gpt-4.1-mini", training_file=file_id)
        assert not [c for c in rsps.calls if "entra-copy" in c.request.url]
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "failed while uploading it to 'azure-entra'" in message
    assert "'azure-entra' could not obtain a Microsoft Entra ID token" in message
    assert CLIENT_SECRET not in response.content.decode()
    job = FineTuningJob.objects.get()
    assert job.ledger_state == LedgerState.FAILED and CLIENT_SECRET not in job.ledger_error


def test_a_file_over_max_upload_mb_that_the_uploads_api_took_can_still_be_copied(
    upstreams, alice, gateway_config
):
    file_id = upload(alice)  # as if completed through /v1/uploads, in parts
    small = len(TRAINING) / 2 / (1024 * 1024)
    settings = {"max_upload_mb": small, "max_upload_total_mb": 1}
    gateway_config({**cross_provider.entries(), "ftproxy_settings": settings})
    response = create(alice, "vertex_ai", training_file=file_id)
    assert response.status_code == 200, response.content
    assert upstreams.gcs_puts[0] == TRAINING


def test_a_download_over_the_largest_accepted_file_is_refused(upstreams, alice, gateway_config):
    file_id = upload(alice)
    small = len(TRAINING) / 2 / (1024 * 1024)
    settings = {"max_upload_mb": small, "max_upload_total_mb": small}
    gateway_config({**cross_provider.entries(), "ftproxy_settings": settings})
    response = create(alice, "vertex_ai", training_file=file_id)
    assert response.status_code == 413
    assert "failed while downloading it from 'openai'" in response.json()["error"]["message"]
    assert upstreams.gcs_puts == []


def test_a_failed_copy_frees_the_idempotency_key_and_may_be_retried(upstreams, alice):
    # The target answered 503 to the copy's upload: the job itself was never
    # sent, so the key is free at once and the SDK may retry by itself.
    file_id = upload(alice)
    upstreams.rsps.replace(responses.POST, f"{AZURE}/files", status=503, json={})
    body = {"model": "gpt-4o-mini-2024-07-18", "custom_llm_provider": "azure"}
    headers = {"Idempotency-Key": "copy-once"}
    first = alice.post_json("/v1/fine_tuning/jobs", {**body, "training_file": file_id}, headers)
    assert first.status_code == 502
    assert first.headers.get("x-should-retry") != "false"
    _no_job_upstream(upstreams)

    upstreams.rsps.remove(responses.POST, f"{AZURE}/files")
    upstreams.rsps.add_callback(responses.POST, f"{AZURE}/files", callback=upstreams.azure_upload)
    again = alice.post_json("/v1/fine_tuning/jobs", {**body, "training_file": file_id}, headers)
    assert again.status_code == 200, again.content
    assert "Idempotent-Replayed" not in again.headers
    assert len(upstreams.azure_jobs) == 1


def test_a_slow_copy_does_not_let_the_idempotency_claim_expire_before_the_job_is_sent(
    upstreams, alice
):
    # A copy may take longer than one call's time limit (a large file, the
    # target's import). Had the claim run out when the job is sent, a retry
    # with the key would find the job absent upstream, fail its row and create
    # it a second time.
    from ftproxy.models import IdempotencyRecord

    file_id = upload(alice)

    def slow_download(request):  # the copy took "too long": the claim's limit has passed
        IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        return 200, {}, TRAINING

    claims = []

    def azure_job(request):
        claims.append(IdempotencyRecord.objects.get())
        return upstreams.azure_job(request)

    upstreams.rsps.remove(responses.GET, CONTENT)
    upstreams.rsps.add_callback(responses.GET, CONTENT, callback=slow_download)
    upstreams.rsps.remove(responses.POST, f"{AZURE}/fine_tuning/jobs")
    upstreams.rsps.add_callback(responses.POST, f"{AZURE}/fine_tuning/jobs", callback=azure_job)
    response = alice.post_json(
        "/v1/fine_tuning/jobs",
        {
            "model": "gpt-4o-mini-2024-07-18",
            "custom_llm_provider": "azure",
            "training_file": file_id,
        },
        {"Idempotency-Key": "slow-copy"},
    )
    assert response.status_code == 200, response.content
    (claim,) = claims
    assert claim.status_code is None and claim.expires_at > timezone.now()
    assert claim.object_id == f"job:{FineTuningJob.objects.get().pk}"


def test_a_row_a_retry_settled_during_the_copy_is_not_sent_again(upstreams, alice):
    # The claim ran out during one long copy, and a retry with the key found
    # the row absent upstream and failed it: the retry owns the create now.
    file_id = upload(alice)

    def download_while_a_retry_settles(request):
        FineTuningJob.objects.update(ledger_state=LedgerState.FAILED)
        return 200, {}, TRAINING

    upstreams.rsps.remove(responses.GET, CONTENT)
    upstreams.rsps.add_callback(responses.GET, CONTENT, callback=download_while_a_retry_settles)
    response = create(alice, "azure", model="gpt-4o-mini-2024-07-18", training_file=file_id)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "outcome_pending"
    assert response.headers.get("x-should-retry") != "false"
    assert upstreams.azure_jobs == []
