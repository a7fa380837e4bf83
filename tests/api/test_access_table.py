"""Every route × every kind of caller, as one table: the owner, another
key, the master key, a revoked key and no key at all. An object another key
owns is a 404 (never 403: existence is not leaked); the keys API is the
master key's, a 403 for any other key; revoked and missing keys are 401;
the open routes answer everyone. Also checked without the ``/v1`` prefix."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.urls import get_resolver

from ftproxy.models import ApiKey, hash_key
from tests.conftest import MASTER_KEY, TRAINING
from tests.factories import ledger_job

pytestmark = pytest.mark.django_db

CALLERS = ("owner", "other", "master", "revoked", "none")
UNAUTHENTICATED = {"revoked": 401, "none": 401}


@dataclass
class World:
    keys: dict[str, str | None]
    file_id: str
    job_id: str
    upload_id: str
    part_id: str
    model: str
    key_id: str
    second_part_id: str | None = None


def make_world(client, make_key) -> World:
    owner, other = make_key("owner"), make_key("other")
    revoked_row, revoked = ApiKey.create_key("revoked")
    revoked_row.revoke()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {owner}"}
    upload = io.BytesIO(TRAINING)
    upload.name = "train.jsonl"
    file_id = client.post("/v1/files", {"file": upload, "purpose": "fine-tune"}, **auth).json()[
        "id"
    ]
    job = client.post(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": file_id},
        content_type="application/json",
        **auth,
    ).json()
    upload_id = client.post("/v1/uploads", UPLOAD, content_type="application/json", **auth).json()[
        "id"
    ]
    part_id = client.post(f"/v1/uploads/{upload_id}/parts", {"data": part()}, **auth).json()["id"]
    keys = {"owner": owner, "other": other, "master": MASTER_KEY, "revoked": revoked, "none": None}
    # A succeeded job of the owner's, with its fine-tuned model.
    tuned = ledger_job(
        f"ftjob-tuned-{file_id}",
        "succeeded",
        provider="sandbox",
        owner=ApiKey.objects.get(hashed_key=hash_key(owner)),
        fine_tuned_model=f"ft:gpt-4o-mini:sandbox::{file_id[-8:]}",
    )
    return World(
        keys=keys,
        file_id=file_id,
        job_id=job["id"],
        upload_id=upload_id,
        part_id=part_id,
        model=tuned.fine_tuned_model,
        key_id=f"key-{ApiKey.objects.get(hashed_key=hash_key(other)).pk}",
    )


#: An Upload of TRAINING twice, in two parts (the world sends the first).
UPLOAD = {
    "filename": "train.jsonl",
    "purpose": "fine-tune",
    "bytes": 2 * len(TRAINING),
    "mime_type": "text/jsonl",
}


def part() -> io.BytesIO:
    data = io.BytesIO(TRAINING)
    data.name = "part"
    return data


@pytest.fixture
def world(sandbox, client, make_key) -> World:
    return make_world(client, make_key)


def owned(ok: int = 200) -> dict[str, int]:
    """An object route: its owner and the master key reach it; another key gets 404."""
    return {"owner": ok, "other": 404, "master": ok, **UNAUTHENTICATED}


def anyone_with_a_key(ok: int = 200) -> dict[str, int]:
    return {"owner": ok, "other": ok, "master": ok, **UNAUTHENTICATED}


OPEN = dict.fromkeys(CALLERS, 200)
MASTER_ONLY = {"owner": 403, "other": 403, "master": 200, **UNAUTHENTICATED}

#: (method, path template, body kind, expected status by caller)
TABLE = [
    ("POST", "files", "upload", anyone_with_a_key()),
    ("GET", "files", None, anyone_with_a_key()),
    ("GET", "files/{file}", None, owned()),
    ("GET", "files/{file}/content", None, owned()),
    ("DELETE", "files/{file}", None, owned()),
    # another key naming the owner's file as training_file: 400 naming the field
    ("POST", "fine_tuning/jobs", "job", {**anyone_with_a_key(), "other": 400}),
    ("GET", "fine_tuning/jobs", None, anyone_with_a_key()),
    ("GET", "fine_tuning/jobs/{job}", None, owned()),
    ("POST", "fine_tuning/jobs/{job}/cancel", None, owned()),
    ("POST", "fine_tuning/jobs/{job}/pause", None, owned()),
    ("POST", "fine_tuning/jobs/{job}/resume", "paused", owned()),
    ("GET", "fine_tuning/jobs/{job}/events", None, owned()),
    ("GET", "fine_tuning/jobs/{job}/checkpoints", None, owned()),
    ("POST", "uploads", "upload_create", anyone_with_a_key()),
    ("POST", "uploads/{upload}/parts", "part", owned()),
    ("POST", "uploads/{upload}/complete", "complete", owned()),
    ("POST", "uploads/{upload}/cancel", None, owned()),
    ("GET", "models", None, anyone_with_a_key()),
    ("GET", "models/{model}", None, owned()),
    ("DELETE", "models/{model}", None, owned()),
    # The keys API: the master key's alone (403 for any other key).
    ("GET", "keys", None, MASTER_ONLY),
    ("POST", "keys", "key", MASTER_ONLY),
    ("GET", "keys/{key}", None, MASTER_ONLY),
    ("POST", "keys/{key}", "key", MASTER_ONLY),
    ("POST", "keys/{key}/revoke", None, MASTER_ONLY),
    ("POST", "keys/{key}/rotate", None, MASTER_ONLY),
]
#: Authenticated by the sender's signature, not a bearer key: every caller
#: gets the same answer (here 404: no entry of that name takes webhooks).
SIGNED_ROUTES = ["webhooks/sandbox"]
OPEN_ROUTES = ["/health/liveliness", "/health/readiness", "/openapi.json", "/docs"]


def call(client, world: World, caller: str, method: str, path: str, body: str | None):
    key = world.keys[caller]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if body == "paused":
        client.post(
            f"/v1/fine_tuning/jobs/{world.job_id}/pause",
            HTTP_AUTHORIZATION=f"Bearer {MASTER_KEY}",
        )
    if body == "upload":
        upload = io.BytesIO(TRAINING)
        upload.name = "train.jsonl"
        return client.post(path, {"file": upload, "purpose": "fine-tune"}, **headers)
    if body == "upload_create":
        return client.post(path, UPLOAD, content_type="application/json", **headers)
    if body == "part":
        return client.post(path, {"data": part()}, **headers)
    if body == "complete":
        if world.second_part_id is None:  # the owner sends the last part first
            world.second_part_id = client.post(
                f"/v1/uploads/{world.upload_id}/parts",
                {"data": part()},
                HTTP_AUTHORIZATION=f"Bearer {world.keys['owner']}",
            ).json()["id"]
        part_ids = [world.part_id, world.second_part_id]
        return client.post(path, {"part_ids": part_ids}, content_type="application/json", **headers)
    if body == "key":
        return client.post(path, {"name": "made"}, content_type="application/json", **headers)
    if body == "job":
        return client.post(
            path,
            {"model": "gpt-4o-mini", "training_file": world.file_id},
            content_type="application/json",
            **headers,
        )
    return client.generic(method, path, **headers)


@pytest.mark.parametrize("prefix", ["/v1/", "/"])
@pytest.mark.parametrize(
    "method, template, body, expected", TABLE, ids=[f"{m} {t}" for m, t, _, _ in TABLE]
)
def test_route_by_caller(sandbox, client, make_key, prefix, method, template, body, expected):
    world = make_world(client, make_key)
    # Callers that are refused first; a caller that succeeds may change the
    # object (delete, cancel), so the next one gets a fresh world.
    for caller in ("revoked", "none", "other", "owner", "master"):
        if caller == "master" and expected["owner"] < 400 and method != "GET":
            world = make_world(client, make_key)
        path = prefix + template.format(
            file=world.file_id,
            job=world.job_id,
            upload=world.upload_id,
            model=world.model,
            key=world.key_id,
        )
        response = call(client, world, caller, method, path, body)
        assert response.status_code == expected[caller], (caller, path, response.content[:300])
        if response.status_code >= 400:
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
        if response.status_code == 401:
            assert response["WWW-Authenticate"].startswith("Bearer")
        if response.status_code == 200 and method == "GET" and template == "files":
            ids = [f["id"] for f in response.json()["data"]]
            assert (world.file_id in ids) == (caller in ("owner", "master"))
        if response.status_code == 200 and method == "GET" and template == "fine_tuning/jobs":
            ids = [j["id"] for j in response.json()["data"]]
            assert (world.job_id in ids) == (caller in ("owner", "master"))
        if response.status_code == 200 and method == "GET" and template == "models":
            ids = [m["id"] for m in response.json()["data"]]
            assert (world.model in ids) == (caller in ("owner", "master"))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", OPEN_ROUTES)
def test_open_routes_answer_everyone(client, world, caller, path):
    assert call(client, world, caller, "GET", path, None).status_code == 200


@pytest.mark.parametrize("prefix", ["/v1/", "/"])
@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_signed_routes_answer_every_caller_alike(client, world, prefix, path):
    answers = {
        caller: call(client, world, caller, "POST", prefix + path, None).status_code
        for caller in CALLERS
    }
    assert set(answers.values()) == {404}, answers


def test_the_table_covers_every_api_route():
    patterns = {str(p.pattern) for p in get_resolver("ftproxy.api.urls").url_patterns}
    covered = {
        t.replace("{file}", "<str:file_id>")
        .replace("{job}", "<str:job_id>")
        .replace("{upload}", "<str:upload_id>")
        .replace("{model}", "<path:model>")
        .replace("{key}", "<str:key_id>")
        for _, t, _, _ in TABLE
    } | {"webhooks/<str:entry>"}
    assert patterns == covered
