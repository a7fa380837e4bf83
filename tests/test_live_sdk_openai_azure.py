"""The real ``openai`` SDK against the running gateway, forwarding to OpenAI,
Azure OpenAI with a dated api-version and Azure OpenAI v1.

The upstreams are played by ``responses`` (it intercepts the ``requests``
calls the gateway makes from the live server's thread; the SDK speaks httpx
to the live server for real). Each upstream records what it was sent, so the
tests check both sides: the URLs, query and headers the upstream saw, and the
typed objects the SDK hands back after the gateway's normalisation.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openai
import pytest
import responses
from openai.types import FileDeleted, FileObject
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from requests_toolbelt import MultipartDecoder

from ftproxy.models import File
from ftproxy.models import FineTuningJob as JobRow
from tests.conftest import MASTER_KEY, chat_line, jsonl

pytestmark = pytest.mark.django_db(transaction=True)


#: Training data with non-ASCII text, so "byte-exact" means something.
class _GatewayId(str):
    """Equal to any gateway-minted job id."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"ftjob-[0-9a-f]{24}", other) is not None

    __hash__ = str.__hash__


ANY_GATEWAY_ID = _GatewayId("ftjob-…")
TRAINING = jsonl(
    chat_line("Grüß dich", "Hallo 👋"), *(chat_line(f"q{i}", f"a{i}") for i in range(2, 11))
)


@dataclass(frozen=True)
class Flavour:
    """One upstream flavour: its config entry and what its requests must carry."""

    name: str
    entry: dict[str, Any]
    base: str
    #: Query parameters every request must carry.
    query: dict[str, str]
    #: The credentials header the upstream must see, and headers it must not.
    auth: tuple[str, str]
    absent: tuple[str, ...]
    #: pause/resume, method, metadata and expires_after reach the upstream.
    full_api: bool
    azure: bool


OPENAI = Flavour(
    name="openai",
    entry={
        "custom_llm_provider": "openai",
        "api_key": "sk-upstream-openai",
        "api_base": "https://api.openai.test/v1",
        "max_retries": 0,
    },
    base="https://api.openai.test/v1",
    query={},
    auth=("Authorization", "Bearer sk-upstream-openai"),
    absent=("api-key",),
    full_api=True,
    azure=False,
)
AZURE_DATED = Flavour(
    name="azure",
    entry={
        "custom_llm_provider": "azure",
        "api_key": "azure-upstream-key",
        "api_base": "https://dated-res.openai.azure.com",
        "api_version": "2024-10-21",
        "max_retries": 0,
    },
    base="https://dated-res.openai.azure.com/openai",
    query={"api-version": "2024-10-21"},
    auth=("api-key", "azure-upstream-key"),
    absent=("Authorization",),
    full_api=False,
    azure=True,
)
AZURE_V1 = Flavour(
    name="azure-v1",
    entry={
        "custom_llm_provider": "azure",
        "name": "azure-v1",
        "api_key": "azure-v1-key",
        "api_base": "https://v1-res.openai.azure.com",
        "api_version": "v1",
        "max_retries": 0,
    },
    base="https://v1-res.openai.azure.com/openai/v1",
    query={},
    auth=("api-key", "azure-v1-key"),
    absent=("Authorization",),
    full_api=True,
    azure=True,
)
FLAVOURS = [OPENAI, AZURE_DATED, AZURE_V1]


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeUpstream:
    """An OpenAI-shaped upstream behind ``responses``: answers by route
    (method and path below ``base``), records every request."""

    base: str
    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def install(self, rsps: responses.RequestsMock) -> None:
        pattern = re.compile(re.escape(self.base) + r"/.*")
        for method in (responses.GET, responses.POST, responses.DELETE):
            rsps.add_callback(method, pattern, callback=self._answer)

    def on(self, method: str, path: str, *answers: Any) -> None:
        """Answers in turn (the last one repeats): ``(status, json)``,
        ``bytes`` (200 raw body) or a callable taking the ``Seen``."""
        self.routes[(method, path)] = list(answers)

    def _answer(self, request):
        split = urlsplit(request.url)
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            body = b"".join(body)  # a streamed upload
        seen = Seen(
            method=request.method,
            path=split.path[len(urlsplit(self.base).path) :].lstrip("/"),
            query=parse_qs(split.query),
            headers=dict(request.headers),
            body=body.encode() if isinstance(body, str) else (body or b""),
        )
        self.seen.append(seen)
        answers = self.routes.get((seen.method, seen.path))
        if not answers:
            return 404, {}, json.dumps({"error": {"message": f"no route {seen.path}"}})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            answer = answer(seen)
        if isinstance(answer, bytes):
            return 200, {"Content-Type": "application/octet-stream"}, answer
        status, data = answer
        return status, {"Content-Type": "application/json"}, json.dumps(data)

    def paths(self, method: str) -> list[str]:
        return [s.path for s in self.seen if s.method == method]


def file_object(file_id: str, status: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(TRAINING),
        "created_at": 1_700_000_000,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": status,
    }


def job_object(
    flavour: Flavour, job_id: str, status: str, created_at: int = 1_700_000_100, **extra: Any
) -> dict[str, Any]:
    job = {
        "id": job_id,
        "object": "fine_tuning.job",
        "created_at": created_at,
        "model": "gpt-4o-mini-2024-07-18",
        "status": status,
        "training_file": "file-up-1",
        "validation_file": None,
        "fine_tuned_model": None,
        "finished_at": None,
        "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 2.0},
        "result_files": [],
        "trained_tokens": None,
        "seed": 7,
        "error": None,
    }
    if flavour is AZURE_DATED:
        job["organisation_id"] = "org-azure"  # the dated API's spelling
    else:
        job["organization_id"] = "org-upstream"
    if flavour.full_api:
        job["method"] = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}
        # The upstream keeps the gateway's tag; the SDK must never see it.
        job["metadata"] = {"team": "a", "ftproxy_job_id": "ftjob-0123456789abcdef01234567"}
    # Fields the gateway does not shape: passed on as the upstream sent them.
    job["user_provided_suffix"] = "demo"
    job["usage_metrics"] = {"trained_tokens": 0, "status": status}
    if flavour is AZURE_V1:
        job["trainingType"] = "GlobalStandard"
    job.update(extra)
    return job


def events_page(flavour: Flavour, seen: Seen) -> tuple[int, dict[str, Any]]:
    """Three events, newest first, paged by ``after``/``limit`` as OpenAI does."""
    level = "warning" if flavour.azure else "warn"
    events = [
        {
            "object": "fine_tuning.job.event",
            "id": f"ftevent-{n}",
            "created_at": 1_700_000_200 + n,
            "level": lvl,
            "message": f"event {n}",
            "type": "message",
        }
        for n, lvl in ((3, "info"), (2, level), (1, "info"))
    ]
    after = seen.query.get("after", [None])[0]
    if after:
        events = events[[e["id"] for e in events].index(after) + 1 :]
    limit = int(seen.query["limit"][0])
    return 200, {"object": "list", "data": events[:limit], "has_more": len(events) > limit}


@pytest.fixture
def sdk_for(live_server, gateway_config):
    """All three flavours configured at once, so the provider hint must
    route; makes master-key SDK clients that send a flavour's name as the
    hint, closed before the live server stops."""
    entries = [dict(f.entry) for f in FLAVOURS]
    gateway_config({"finetune_settings": entries, "files_settings": [dict(e) for e in entries]})
    clients: list[openai.OpenAI] = []

    def connect(flavour: Flavour) -> openai.OpenAI:
        client = openai.OpenAI(
            api_key=MASTER_KEY,
            base_url=f"{live_server.url}/v1",
            max_retries=0,
            default_headers={"custom-llm-provider": flavour.name},
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()  # end keep-alive connections before the live server stops


def script_upstream(flavour: Flavour) -> FakeUpstream:
    """Every route the scenario below uses, answered as ``flavour`` would."""
    up = FakeUpstream(flavour.base)
    azure = flavour.azure
    up.on(
        "POST",
        "files",
        (
            201 if flavour is AZURE_DATED else 200,
            file_object("file-up-1", "pending" if azure else "processed"),
        ),
    )
    up.on(
        "GET",
        "files/file-up-1",
        (200, file_object("file-up-1", "running" if azure else "processed")),
    )
    up.on("GET", "files/file-up-1/content", TRAINING)
    up.on(
        "DELETE", "files/file-up-1", (200, {"id": "file-up-1", "object": "file", "deleted": True})
    )
    queued = ("pending", "created", "pending") if azure else ("queued",) * 3
    up.on(
        "POST",
        "fine_tuning/jobs",
        *(
            (
                200 if flavour is not AZURE_DATED else 201,
                job_object(flavour, f"ftjob-up-{n}", status, created_at=1_700_000_100 + n),
            )
            for n, status in zip((1, 2, 3), queued, strict=True)
        ),
    )
    up.on(
        "GET",
        "fine_tuning/jobs/ftjob-up-1",
        (200, job_object(flavour, "ftjob-up-1", "running", created_at=1_700_000_101)),
    )
    up.on("GET", "fine_tuning/jobs/ftjob-up-1/events", lambda seen: events_page(flavour, seen))
    up.on(
        "GET",
        "fine_tuning/jobs/ftjob-up-1/checkpoints",
        (
            200,
            {
                "object": "list",
                "has_more": False,
                "first_id": "ftckpt-9",
                "last_id": "ftckpt-9",
                "data": [
                    {
                        "object": "fine_tuning.job.checkpoint",
                        "id": "ftckpt-9",
                        "created_at": 1_700_000_300,
                        "step_number": 9,
                        "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:org::ckpt-step-9",
                        "fine_tuning_job_id": "ftjob-up-1",
                        "metrics": {"step": 9, "train_loss": 0.25},
                    }
                ],
            },
        ),
    )
    up.on(
        "POST",
        "fine_tuning/jobs/ftjob-up-1/pause",
        (200, job_object(flavour, "ftjob-up-1", "paused", created_at=1_700_000_101)),
    )
    up.on(
        "POST",
        "fine_tuning/jobs/ftjob-up-1/resume",
        (
            200,
            job_object(
                flavour, "ftjob-up-1", "pending" if azure else "queued", created_at=1_700_000_101
            ),
        ),
    )
    up.on(
        "POST",
        "fine_tuning/jobs/ftjob-up-1/cancel",
        (200, job_object(flavour, "ftjob-up-1", "cancelled", created_at=1_700_000_101)),
    )
    return up


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f.name)
def test_the_sdk_drives_files_and_jobs_end_to_end_through_the_provider(sdk_for, flavour):
    sdk = sdk_for(flavour)
    up = script_upstream(flavour)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        up.install(rsps)

        # ---- upload ---------------------------------------------------
        expiry = {"expires_after": {"anchor": "created_at", "seconds": 3600}}
        uploaded = sdk.files.create(
            file=("train.jsonl", io.BytesIO(TRAINING)),
            purpose="fine-tune",
            **(expiry if flavour.full_api else {}),
        )
        assert isinstance(uploaded, FileObject)
        assert uploaded.id == "file-up-1"  # OpenAI and Azure ids pass through
        assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (
            len(TRAINING),
            "train.jsonl",
            "fine-tune",
        )
        assert uploaded.created_at == 1_700_000_000
        assert uploaded.status == ("uploaded" if flavour.azure else "processed")

        # ---- create jobs -------------------------------------------------
        method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}
        # metadata is the gateway's own: kept and answered for every flavour,
        # sent upstream only where the API takes it.
        options = {"method": method, "metadata": {"team": "a"}}
        if flavour is AZURE_V1:
            options["extra_body"] = {"trainingType": "globalstandard"}
        job = sdk.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=uploaded.id, suffix="demo", seed=7, **options
        )
        assert isinstance(job, FineTuningJob)
        assert job.id == "ftjob-up-1"
        assert job.status == "queued"  # Azure's "pending" normalised
        assert job.organization_id == ("org-azure" if flavour is AZURE_DATED else "org-upstream")
        assert (job.training_file, job.seed, job.created_at) == ("file-up-1", 7, 1_700_000_101)
        assert job.hyperparameters.n_epochs == 3
        if flavour.full_api:
            assert job.method.type == "supervised"
            assert job.method.supervised.hyperparameters.n_epochs == 3
        assert job.metadata == {"team": "a"}
        assert job.user_provided_suffix == "demo"
        assert job.to_dict()["usage_metrics"] == {
            "trained_tokens": 0,
            "status": "pending" if flavour.azure else "queued",
        }
        if flavour is AZURE_V1:
            assert job.to_dict()["trainingType"] == "GlobalStandard"
        more = [
            sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=uploaded.id)
            for _ in range(2)
        ]
        assert [j.status for j in more] == ["queued", "queued"]  # "created" too, on Azure

        # ---- list (auto-pagination over the ledger) -----------------------
        listed = list(sdk.fine_tuning.jobs.list(limit=2))
        assert [j.id for j in listed] == ["ftjob-up-3", "ftjob-up-2", "ftjob-up-1"]
        assert all(isinstance(j, FineTuningJob) for j in listed)
        assert [j.user_provided_suffix for j in listed] == ["demo"] * 3
        tagged = list(sdk.fine_tuning.jobs.list(metadata={"team": "a"}))
        assert [j.id for j in tagged] == ["ftjob-up-1"]
        assert list(sdk.fine_tuning.jobs.list(metadata={"team": "b"})) == []
        assert [f.id for f in sdk.files.list()] == ["file-up-1"]

        # ---- retrieve ------------------------------------------------------
        assert sdk.files.retrieve(uploaded.id).status == (
            "uploaded" if flavour.azure else "processed"
        )  # Azure's "running" normalised
        running = sdk.fine_tuning.jobs.retrieve(job.id)
        assert (running.id, running.status, running.model) == (
            "ftjob-up-1",
            "running",
            "gpt-4o-mini-2024-07-18",
        )
        assert running.to_dict()["usage_metrics"]["status"] == "running"
        assert running.metadata == {"team": "a"}  # the ledger's, also where Azure has none

        # ---- events and checkpoints ----------------------------------------
        events = list(sdk.fine_tuning.jobs.list_events(job.id, limit=2))
        assert all(isinstance(e, FineTuningJobEvent) for e in events)
        assert [(e.id, e.level, e.message) for e in events] == [
            ("ftevent-3", "info", "event 3"),
            ("ftevent-2", "warn", "event 2"),  # Azure's "warning" normalised
            ("ftevent-1", "info", "event 1"),
        ]
        checkpoints = list(sdk.fine_tuning.jobs.checkpoints.list(job.id))
        assert len(checkpoints) == 1 and isinstance(checkpoints[0], FineTuningJobCheckpoint)
        checkpoint = checkpoints[0]
        assert (checkpoint.id, checkpoint.step_number, checkpoint.fine_tuning_job_id) == (
            "ftckpt-9",
            9,
            "ftjob-up-1",
        )
        assert checkpoint.metrics.train_loss == 0.25
        assert checkpoint.fine_tuned_model_checkpoint == "ft:gpt-4o-mini:org::ckpt-step-9"

        # ---- pause / resume --------------------------------------------------
        if flavour.full_api:
            assert sdk.fine_tuning.jobs.pause(job.id).status == "paused"
            assert sdk.fine_tuning.jobs.resume(job.id).status == "queued"
        else:
            for action in (sdk.fine_tuning.jobs.pause, sdk.fine_tuning.jobs.resume):
                with pytest.raises(openai.BadRequestError) as caught:
                    action(job.id)
                assert "api_version: v1" in caught.value.message

        # ---- cancel, content, delete -------------------------------------------
        cancelled = sdk.fine_tuning.jobs.cancel(job.id)
        assert (cancelled.id, cancelled.status) == ("ftjob-up-1", "cancelled")
        assert sdk.files.content(uploaded.id).read() == TRAINING
        deleted = sdk.files.delete(uploaded.id)
        assert isinstance(deleted, FileDeleted)
        assert (deleted.id, deleted.deleted) == ("file-up-1", True)
        assert [f.id for f in sdk.files.list()] == []

    # ---- what the upstream saw ---------------------------------------------------
    for seen in up.seen:
        assert seen.headers.get(flavour.auth[0]) == flavour.auth[1], seen.path
        for header in flavour.absent:
            assert header not in seen.headers, (header, seen.path)
        assert MASTER_KEY not in json.dumps(seen.headers)
        for name, value in flavour.query.items():
            assert seen.query.get(name) == [value], seen.path
        if not flavour.query:
            assert "api-version" not in seen.query
    pauses = [p for p in up.paths("POST") if p.endswith(("/pause", "/resume"))]
    assert pauses == (
        ["fine_tuning/jobs/ftjob-up-1/pause", "fine_tuning/jobs/ftjob-up-1/resume"]
        if flavour.full_api
        else []
    )  # dated: refused before any call
    assert up.paths("POST").count("fine_tuning/jobs/ftjob-up-1/cancel") == 1
    assert up.paths("DELETE") == ["files/file-up-1"]

    upload = next(s for s in up.seen if (s.method, s.path) == ("POST", "files"))
    parts = MultipartDecoder(upload.body, upload.headers["Content-Type"]).parts
    form = {
        re.search(rb'name="([^"]+)"', p.headers[b"Content-Disposition"])[1].decode(): p.content
        for p in parts
    }
    assert form["file"] == TRAINING
    assert form["purpose"] == b"fine-tune"
    if flavour.full_api:
        assert (form["expires_after[anchor]"], form["expires_after[seconds]"]) == (
            b"created_at",
            b"3600",
        )
    else:
        assert not any(name.startswith("expires_after") for name in form)

    created = json.loads(
        next(s.body for s in up.seen if (s.method, s.path) == ("POST", "fine_tuning/jobs"))
    )
    assert (created["model"], created["training_file"], created["suffix"], created["seed"]) == (
        "gpt-4o-mini",
        "file-up-1",
        "demo",
        7,
    )
    if flavour.full_api:
        # The gateway's own id travels in one ftproxy_ key beside the user's.
        assert created["method"] == method
        assert created["metadata"] == {"team": "a", "ftproxy_job_id": ANY_GATEWAY_ID}
    else:  # the dated API takes the supervised hyperparameters flattened (no metadata)
        assert "method" not in created and "metadata" not in created
        assert created["hyperparameters"] == {"n_epochs": 3}
    if flavour is AZURE_V1:
        assert created["trainingType"] == "GlobalStandard"
    else:
        assert "trainingType" not in created

    events_queries = [s.query for s in up.seen if s.path.endswith("/events")]
    assert [(q.get("after"), q["limit"]) for q in events_queries] == [
        (None, ["2"]),
        (["ftevent-2"], ["2"]),
    ]

    # The ledger keeps Azure's own words beside OpenAI's.
    row = JobRow.objects.get(public_id="ftjob-up-1")
    assert (row.status, row.raw_status, row.remote_id) == ("cancelled", "cancelled", "ftjob-up-1")
    assert JobRow.objects.get(public_id="ftjob-up-2").raw_status == (
        "created" if flavour.azure else "queued"
    )
    assert File.objects.get(public_id="file-up-1").deleted is True


def test_the_sdk_sees_a_400_when_the_dated_api_cannot_carry_a_field(sdk_for):
    sdk = sdk_for(AZURE_DATED)
    up = script_upstream(AZURE_DATED)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        up.install(rsps)
        uploaded = sdk.files.create(file=("train.jsonl", io.BytesIO(TRAINING)), purpose="fine-tune")
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.fine_tuning.jobs.create(
                model="gpt-4o-mini",
                training_file=uploaded.id,
                integrations=[{"type": "wandb", "wandb": {"project": "p"}}],
            )
    assert caught.value.param == "integrations"
    assert "api_version: v1" in caught.value.message
    assert up.paths("POST") == ["files"]  # the job never went upstream
