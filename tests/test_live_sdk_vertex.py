"""The real ``openai`` SDK against the running gateway, forwarding to Vertex AI.

google-auth runs for real: it signs a JWT with the test service account's
RSA key and exchanges it at a local token endpoint. Cloud Storage's
resumable uploads and Vertex's ``tuningJobs`` are played by ``responses``.
The gateway mints the public ``file-…``/``ftjob-…`` ids and keeps the
``gs://`` URI and the resource name in the ledger.
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
import responses

from ftproxy.models import File, FineTuningJob
from tests.conftest import MASTER_KEY, TRAINING
from tests.providers.vertex.helpers import (
    API,
    BUCKET,
    GCS,
    JOB_NAME,
    JOB_URL,
    PROJECT,
    service_account_info,
    tuning_job,
)

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD_START = f"{GCS}/upload/storage/v1/b/{BUCKET}/o"
SESSION = re.compile(re.escape(f"{GCS}/upload/session/") + r"\d+")
#: 2025-03-01T10:00:00.123456Z, the createTime of ``tuning_job()``, in Unix seconds.
CREATED_AT = 1_740_823_200
RAW_TRAINING = f"gs://{BUCKET}/elsewhere/train.jsonl"
ENDPOINT = f"projects/{PROJECT}/locations/us-central1/endpoints/77"


class TokenEndpoint(ThreadingHTTPServer):
    """A local OAuth token endpoint answering the JWT bearer grant."""

    token = "ya29.live-test-token"

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.grants: list[dict[str, list[str]]] = []

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/token"


class TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length") or 0)
        self.server.grants.append(urllib.parse.parse_qs(self.rfile.read(length).decode()))
        data = json.dumps({"access_token": TokenEndpoint.token, "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint():
    server = TokenEndpoint()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sdk_as(live_server, gateway_config, token_endpoint):
    """Vertex AI for files and fine-tuning; makes SDK clients speaking as a key,
    closed before the live server stops."""
    credentials = json.dumps(service_account_info(token_uri=token_endpoint.uri))
    entry = {
        "custom_llm_provider": "vertex_ai",
        "vertex_project": PROJECT,
        "vertex_location": "us-central1",
        "vertex_credentials": credentials,
        "max_retries": 0,
    }
    gateway_config(
        {
            "finetune_settings": [entry],
            "files_settings": [{**entry, "gcs_bucket_name": f"{BUCKET}/team-a"}],
        }
    )
    clients: list[openai.OpenAI] = []

    def connect(key: str) -> openai.OpenAI:
        client = openai.OpenAI(api_key=key, base_url=f"{live_server.url}/v1", max_retries=0)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()  # end keep-alive connections before the live server stops


class Vertex:
    """Cloud Storage and tuningJobs behind ``responses``; records requests."""

    def __init__(self, rsps: responses.RequestsMock, token_uri: str):
        self.rsps = rsps
        self.puts: list[bytes] = []
        self.created: list[dict[str, Any]] = []
        self.states = ["JOB_STATE_RUNNING"]
        self._sessions = iter(range(1000))
        rsps.add_passthru(token_uri)
        rsps.add_callback(responses.POST, UPLOAD_START, callback=self._start_upload)
        rsps.add_callback(responses.PUT, SESSION, callback=self._put)
        rsps.add_callback(responses.POST, f"{API}/tuningJobs", callback=self._create)
        rsps.add_callback(responses.GET, JOB_URL, callback=self._get)
        rsps.add(responses.POST, f"{JOB_URL}:cancel", json={})

    def _start_upload(self, request):
        return 200, {"Location": f"{GCS}/upload/session/{next(self._sessions)}"}, ""

    def _put(self, request):
        body = request.body
        self.puts.append(body if isinstance(body, bytes) else b"".join(body))
        return 200, {}, json.dumps({"name": "object"})

    def _create(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        job = tuning_job("JOB_STATE_PENDING", supervisedTuningSpec=body["supervisedTuningSpec"])
        return 200, {}, json.dumps(job)

    def _get(self, request):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        fields: dict[str, Any] = {}
        if state == "JOB_STATE_SUCCEEDED":
            fields = {
                "endTime": "2025-03-01T11:00:00Z",
                "tunedModel": {"model": f"projects/{PROJECT}/models/9", "endpoint": ENDPOINT},
            }
        return 200, {}, json.dumps(tuning_job(state, **fields))

    def calls(self, method: str, url: str) -> list:
        return [
            c.request
            for c in self.rsps.calls
            if c.request.method == method and c.request.url.split("?")[0] == url
        ]


def test_the_sdk_uploads_creates_retrieves_and_cancels_on_vertex(sdk_as, token_endpoint):
    sdk = sdk_as(MASTER_KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        vertex = Vertex(rsps, token_endpoint.uri)

        uploaded = sdk.files.create(file=("train.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
        assert re.fullmatch(r"file-[0-9a-f]{24}", uploaded.id)
        assert (uploaded.bytes, uploaded.filename, uploaded.status) == (
            len(TRAINING),
            "train.jsonl",
            "processed",
        )
        uri = File.objects.get(public_id=uploaded.id).remote_id
        # The folder is the gateway's file id, so a lost answer can be found again.
        assert uri == f"gs://{BUCKET}/team-a/ftproxy/{uploaded.id}/gemini/train.jsonl"
        # The user's bytes and the Gemini copy, each in its own resumable upload.
        assert vertex.puts[0] == TRAINING
        first = json.loads(vertex.puts[1].splitlines()[0])
        assert first["contents"][0] == {"role": "user", "parts": [{"text": "q0"}]}

        job = sdk.fine_tuning.jobs.create(
            model="gemini-2.0-flash-001",
            training_file=uploaded.id,
            suffix="support-bot",
            hyperparameters={"n_epochs": 3},
        )
        assert re.fullmatch(r"ftjob-[0-9a-f]{24}", job.id)
        assert job.training_file == uploaded.id  # the gateway's id, not the gs:// URI
        assert vertex.created[0]["supervisedTuningSpec"]["trainingDatasetUri"] == uri
        assert vertex.created[0]["baseModel"] == "gemini-2.0-flash-001"
        assert job.status == "queued"  # JOB_STATE_PENDING
        assert job.created_at == CREATED_AT  # RFC 3339 with microseconds → whole seconds
        assert job.organization_id == PROJECT
        assert job.hyperparameters.n_epochs == 3  # proto3's "3" read as a number
        row = FineTuningJob.objects.get(public_id=job.id)
        assert (row.remote_id, row.raw_status) == (JOB_NAME, "JOB_STATE_PENDING")

        vertex.states = ["JOB_STATE_RUNNING"]
        running = sdk.fine_tuning.jobs.retrieve(job.id)
        assert (running.id, running.status, running.training_file) == (
            job.id,
            "running",
            uploaded.id,
        )

        with pytest.raises(openai.BadRequestError) as caught:
            sdk.fine_tuning.jobs.pause(job.id)
        assert "not supported by vertex_ai" in caught.value.message

        vertex.states = ["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"]
        cancelled = sdk.fine_tuning.jobs.cancel(job.id)
        assert (cancelled.id, cancelled.status) == (job.id, "cancelled")
        assert len(vertex.calls("POST", f"{JOB_URL}:cancel")) == 1
        row.refresh_from_db()
        assert (row.raw_status, row.terminal) == ("JOB_STATE_CANCELLING", False)
        assert sdk.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
        row.refresh_from_db()
        assert (row.raw_status, row.terminal) == ("JOB_STATE_CANCELLED", True)

        events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=2))
        assert [(e.data["from_status"], e.data["to_status"]) for e in events] == [
            ("running", "cancelled"),
            ("queued", "running"),
            (None, "queued"),
        ]
        assert [e.data["provider_status"] for e in events] == [
            "JOB_STATE_CANCELLING",
            "JOB_STATE_RUNNING",
            "JOB_STATE_PENDING",
        ]
        assert all(e.object == "fine_tuning.job.event" and e.level == "info" for e in events)

        vertex_requests = [
            c.request for c in rsps.calls if c.request.url.startswith((API, GCS, JOB_URL))
        ]
    assert vertex_requests
    for request in vertex_requests:
        assert request.headers["Authorization"] == f"Bearer {TokenEndpoint.token}"
    # One token per configured entry (files, fine-tuning), reused for every call.
    assert len(token_endpoint.grants) == 2
    assert all(
        g["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        for g in token_endpoint.grants
    )


def test_a_succeeded_job_reports_its_endpoint_as_the_fine_tuned_model(sdk_as, token_endpoint):
    sdk = sdk_as(MASTER_KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        vertex = Vertex(rsps, token_endpoint.uri)
        job = sdk.fine_tuning.jobs.create(model="gemini-2.0-flash-001", training_file=RAW_TRAINING)
        vertex.states = ["JOB_STATE_SUCCEEDED"]
        done = sdk.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == ENDPOINT
    assert done.finished_at == CREATED_AT + 3600


def test_a_raw_gs_uri_is_for_the_master_key_only(sdk_as, token_endpoint, make_key):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        vertex = Vertex(rsps, token_endpoint.uri)
        with pytest.raises(openai.BadRequestError) as caught:
            sdk_as(make_key("alice")).fine_tuning.jobs.create(
                model="gemini-2.0-flash-001", training_file=RAW_TRAINING
            )
        assert caught.value.param == "training_file"
        assert "master key" in caught.value.message
        assert vertex.created == []  # nothing reached Vertex

        job = sdk_as(MASTER_KEY).fine_tuning.jobs.create(
            model="gemini-2.0-flash-001", training_file=RAW_TRAINING
        )
    assert job.training_file == RAW_TRAINING
    assert re.fullmatch(r"ftjob-[0-9a-f]{24}", job.id)
    assert vertex.created[0]["supervisedTuningSpec"]["trainingDatasetUri"] == RAW_TRAINING
    assert FineTuningJob.objects.filter(ledger_state="ok").count() == 1
