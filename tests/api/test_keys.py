"""The keys API: master key only; the secret shown once and stored hashed;
updates, expiry, allowlists, rotation with its grace period, revocation;
every change in the key's change trail with who made it."""

from __future__ import annotations

import datetime
import hashlib
import json
import time

import pytest
from django.utils import timezone

from ftproxy.models import ApiKey, File, FineTuningJob, KeyChange, Upload
from tests.conftest import MASTER_KEY, TRAINING

pytestmark = pytest.mark.django_db

ROUTES = [
    ("GET", "keys"),
    ("POST", "keys"),
    ("GET", "keys/{id}"),
    ("POST", "keys/{id}"),
    ("POST", "keys/{id}/revoke"),
    ("POST", "keys/{id}/rotate"),
]


@pytest.fixture
def two_entries(gateway_config, sandbox_entry):
    return gateway_config(
        {
            "finetune_settings": [sandbox_entry, {**sandbox_entry, "name": "fast"}],
            "files_settings": [sandbox_entry, {**sandbox_entry, "name": "fast"}],
        }
    )


def create(master, **body):
    response = master.post_json("/v1/keys", {"name": "team", **body})
    assert response.status_code == 200, response.content
    return response.json()


def call(api, method, path, body=None):
    if method == "GET":
        return api.get(path)
    return api.post_json(path, body or {})


@pytest.mark.parametrize("prefix", ["/v1/", "/"])
@pytest.mark.parametrize("method, template", ROUTES)
def test_every_key_route_is_for_the_master_key_only(
    sandbox, master, api_as, make_key, prefix, method, template
):
    target = create(master)["id"]
    path = prefix + template.format(id=target)
    response = call(api_as(make_key("user")), method, path)
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("master_key_required", "permission_error")
    assert call(api_as(None), method, path).status_code == 401
    assert ApiKey.objects.get(pk=int(target[4:])).revoked is False


def test_create_shows_the_secret_once_and_stores_only_its_hash(sandbox, master, api_as):
    made = master.post_json("/v1/keys", {"name": " team-a ", "budget_usd": "25.50"})
    body = made.json()
    secret = body["key"]
    assert secret.startswith("sk-ftp-") and body["prefix"] == secret[:15]
    assert (body["name"], body["budget_usd"], body["webhook_secret"]) == ("team-a", "25.50", None)
    row = ApiKey.objects.get(pk=int(body["id"][4:]))
    assert row.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
    assert api_as(secret).get("/v1/files").status_code == 200
    retrieved = master.get(f"/v1/keys/{body['id']}").json()
    listed = master.get("/v1/keys").json()["data"]
    assert "key" not in retrieved and all("key" not in item for item in listed)
    assert secret not in json.dumps(list(KeyChange.objects.values()), default=str)
    (change,) = KeyChange.objects.filter(key=row)
    assert (change.action, change.actor) == ("created", "master key (API)")
    assert change.request_id == made["x-request-id"]
    assert change.changes["budget_usd"] == [None, "25.50"]


def test_a_webhook_url_at_create_answers_its_signing_secret_once(sandbox, master):
    body = create(master, webhook_url="https://hooks.example.com/x")
    assert body["webhook_secret"].startswith("whsec_")
    again = master.get(f"/v1/keys/{body['id']}").json()
    assert "webhook_secret" not in again and again["webhook_url"] == "https://hooks.example.com/x"


def test_update_changes_what_it_names_and_the_trail_says_who(two_entries, master):
    key_id = create(master, max_active_jobs=2)["id"]
    expires = int(time.time()) + 3600
    response = master.post_json(
        f"/v1/keys/{key_id}",
        {
            "name": "renamed",
            "budget_usd": "10",
            "allowed_providers": ["fast"],
            "allowed_models": ["gpt-4o-mini", "my-*"],
            "expires_at": expires,
            "webhook_url": "https://hooks.example.com/y",
        },
    )
    body = response.json()
    assert body["name"] == "renamed" and body["budget_usd"] == "10.00"
    assert body["allowed_providers"] == ["fast"] and body["expires_at"] == expires
    assert body["max_active_jobs"] == 2  # left out: unchanged
    assert body["webhook_secret"].startswith("whsec_")
    change = KeyChange.objects.get(action="updated")
    assert change.changes["name"] == ["team", "renamed"]
    assert change.changes["webhook_url"] == [None, "https://hooks.example.com/y"]
    assert "whsec_" not in json.dumps(change.changes)
    cleared = master.post_json(
        f"/v1/keys/{key_id}", {"budget_usd": None, "allowed_models": None, "webhook_url": None}
    ).json()
    assert (cleared["budget_usd"], cleared["allowed_models"], cleared["webhook_url"]) == (
        None,
        None,
        None,
    )
    assert ApiKey.objects.get(pk=int(key_id[4:])).webhook_secret == ""


@pytest.mark.parametrize(
    "body, param",
    [
        ({"budget_usd": 10}, "budget_usd"),
        ({"budget_usd": "1.234"}, "budget_usd"),
        ({"max_active_jobs": -1}, "max_active_jobs"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
        ({"allowed_providers": ["nope"]}, "allowed_providers"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"name": "  "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(sandbox, master, body, param):
    key_id = create(master)["id"]
    response = master.post_json(f"/v1/keys/{key_id}", body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert not KeyChange.objects.filter(action="updated").exists()


def test_an_expired_key_is_a_401_saying_so(sandbox, master, api_as):
    body = create(master, expires_at=int(time.time()) - 5)
    response = api_as(body["key"]).get("/v1/files")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]
    master.post_json(f"/v1/keys/{body['id']}", {"expires_at": None})
    assert api_as(body["key"]).get("/v1/files").status_code == 200


def test_a_provider_outside_the_allowlist_is_a_403_before_anything_is_recorded(
    two_entries, master, api_as
):
    body = create(master, allowed_providers=["fast"])
    user = api_as(body["key"])
    refused = user.upload(TRAINING, extra={"custom_llm_provider": "sandbox"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["param"], error["code"]) == ("custom_llm_provider", "provider_not_allowed")
    assert "'sandbox'" in error["message"] and "fast" in error["message"]
    upload = user.post_json(
        "/v1/uploads",
        {"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"},
        headers={"custom-llm-provider": "sandbox"},
    )
    assert upload.status_code == 403
    assert not File.objects.exists() and not Upload.objects.exists()
    file_id = user.upload(TRAINING, extra={"custom_llm_provider": "fast"}).json()["id"]
    job = user.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": file_id, "custom_llm_provider": "sandbox"},
    )
    assert job.status_code == 403
    assert job.json()["error"]["param"] == "custom_llm_provider"
    assert not FineTuningJob.objects.exists()


def test_a_model_outside_the_allowlist_is_a_403_naming_model(sandbox, master, api_as):
    body = create(master, allowed_models=["gpt-4o-mini", "my-*"])
    user = api_as(body["key"])
    file_id = user.upload(TRAINING).json()["id"]
    refused = user.post_json("/v1/fine_tuning/jobs", {"model": "gpt-4.1", "training_file": file_id})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_allowed")
    assert not FineTuningJob.objects.exists()
    for model in ("gpt-4o-mini-2024-07-18", "my-model", "ft:gpt-4o-mini:sandbox::x"):
        response = user.post_json(
            "/v1/fine_tuning/jobs", {"model": model, "training_file": file_id}
        )
        assert response.status_code != 403, (model, response.content)


def test_rotation_keeps_the_old_secret_for_the_grace_period(sandbox, master, api_as):
    body = create(master)
    old = body["key"]
    rotated = master.post_json(f"/v1/keys/{body['id']}/rotate").json()
    new = rotated["key"]
    assert new != old and rotated["prefix"] == new[:15]
    grace_end = rotated["previous_key_expires_at"]
    assert abs(grace_end - (time.time() + 86400)) < 60
    assert api_as(new).get("/v1/files").status_code == 200
    assert api_as(old).get("/v1/files").status_code == 200  # within its grace period
    row = ApiKey.objects.get(pk=int(body["id"][4:]))
    row.previous_key_expires_at = timezone.now() - datetime.timedelta(seconds=1)
    row.save(update_fields=["previous_key_expires_at"])
    response = api_as(old).get("/v1/files")
    assert response.status_code == 401
    assert "rotated" in response.json()["error"]["message"]
    assert api_as(new).get("/v1/files").status_code == 200
    change = KeyChange.objects.get(action="rotated")
    assert change.changes["prefix"] == [old[:15], new[:15]]
    assert old not in json.dumps(change.changes) and new not in json.dumps(change.changes)


def test_rotation_without_grace_ends_the_old_secret_at_once(sandbox, master, api_as):
    body = create(master)
    first = master.post_json(f"/v1/keys/{body['id']}/rotate").json()["key"]
    second = master.post_json(f"/v1/keys/{body['id']}/rotate", {"grace_period_seconds": 0}).json()
    assert second["previous_key_expires_at"] == second["rotated_at"]
    for old in (body["key"], first):
        assert api_as(old).get("/v1/files").status_code == 401
    assert "rotated" in api_as(first).get("/v1/files").json()["error"]["message"]
    assert api_as(second["key"]).get("/v1/files").status_code == 200
    too_long = master.post_json(
        f"/v1/keys/{body['id']}/rotate", {"grace_period_seconds": 8 * 86400}
    )
    assert too_long.json()["error"]["param"] == "grace_period_seconds"


def test_revocation_ends_both_secrets_and_is_final(sandbox, master, api_as):
    body = create(master)
    new = master.post_json(f"/v1/keys/{body['id']}/rotate").json()["key"]
    revoked = master.post_json(f"/v1/keys/{body['id']}/revoke").json()
    assert revoked["revoked"] is True and revoked["revoked_at"]
    for secret in (body["key"], new):
        response = api_as(secret).get("/v1/files")
        assert response.status_code == 401
        assert "revoked" in response.json()["error"]["message"]
    renamed = master.post_json(f"/v1/keys/{body['id']}", {"name": "retired"}).json()
    assert (renamed["name"], renamed["revoked"]) == ("retired", True)
    assert api_as(new).get("/v1/files").status_code == 401
    assert master.post_json(f"/v1/keys/{body['id']}/rotate").status_code == 400
    assert KeyChange.objects.filter(action="revoked").count() == 1
    assert master.post_json(f"/v1/keys/{body['id']}/revoke").status_code == 200  # idempotent
    assert KeyChange.objects.filter(action="revoked").count() == 1


def test_list_pages_newest_first_and_unknown_ids_are_404(sandbox, master):
    ids = [create(master, name=f"k{i}")["id"] for i in range(3)]
    page = master.get("/v1/keys", {"limit": 2}).json()
    assert [k["id"] for k in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    rest = master.get("/v1/keys", {"limit": 2, "after": page["last_id"]}).json()
    assert [k["id"] for k in rest["data"]] == [ids[0]] and rest["has_more"] is False
    for path in ("/v1/keys/key-999999", "/v1/keys/nonsense", "/v1/keys/key-%C2%B2"):
        assert master.get(path).status_code == 404
    for after in ("key-999999", "key-\u00b2"):  # "²" is a digit to str.isdigit, not to int
        assert master.get("/v1/keys", {"after": after}).status_code == 404


def test_the_master_key_itself_is_no_stored_key(sandbox, master):
    assert master.get("/v1/keys").json()["data"] == []
    assert MASTER_KEY not in json.dumps(master.get("/v1/keys").json())
