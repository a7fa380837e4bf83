"""Per-key isolation: a key sees and touches only what it created (404,
never 403); the master key sees everything."""

import pytest

from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(api_as, make_key, sandbox):
    return api_as(make_key("alice"))


@pytest.fixture
def bob(api_as, make_key, sandbox):
    return api_as(make_key("bob"))


@pytest.fixture
def alices_objects(alice):
    file_id = alice.upload(TRAINING).json()["id"]
    job = alice.post_json("/v1/fine_tuning/jobs", {"model": "m", "training_file": file_id})
    return file_id, job.json()["id"]


def routes(file_id, job_id):
    jobs = f"/v1/fine_tuning/jobs/{job_id}"
    return [
        ("get", f"/v1/files/{file_id}"),
        ("get", f"/v1/files/{file_id}/content"),
        ("delete", f"/v1/files/{file_id}"),
        ("get", jobs),
        ("get", f"{jobs}/events"),
        ("get", f"{jobs}/checkpoints"),
        ("post", f"{jobs}/pause"),
        ("post", f"{jobs}/resume"),
        ("post", f"{jobs}/cancel"),
    ]


def call(api, method, path):
    if method == "post":
        return api.post_json(path)
    return getattr(api, method)(path)


@pytest.mark.parametrize("index", range(9))
def test_another_keys_object_is_404_on_every_route(alice, bob, alices_objects, index):
    method, path = routes(*alices_objects)[index]
    response = call(bob, method, path)
    assert response.status_code == 404, (method, path, response.content)
    assert response.json()["error"]["code"] == "not_found"
    # ...and the same route still works for the owner afterwards.
    assert alice.get(f"/v1/files/{alices_objects[0]}").status_code == 200


def test_another_keys_training_file_cannot_be_used(alice, bob, alices_objects):
    response = bob.post_json(
        "/v1/fine_tuning/jobs", {"model": "m", "training_file": alices_objects[0]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "training_file"


def test_lists_show_only_the_callers_objects(alice, bob, alices_objects):
    bobs_file = bob.upload(TRAINING).json()["id"]
    assert [f["id"] for f in bob.get("/v1/files").json()["data"]] == [bobs_file]
    assert bob.get("/v1/fine_tuning/jobs").json()["data"] == []
    assert [j["id"] for j in alice.get("/v1/fine_tuning/jobs").json()["data"]] == [
        alices_objects[1]
    ]


def test_another_keys_id_is_not_a_valid_list_cursor(alice, bob, alices_objects):
    response = bob.get("/v1/files", {"after": alices_objects[0]})
    assert response.status_code == 400


def test_master_key_sees_and_manages_everything(alice, bob, master, alices_objects):
    bob.upload(TRAINING)
    assert len(master.get("/v1/files").json()["data"]) == 2
    file_id, job_id = alices_objects
    assert master.get(f"/v1/fine_tuning/jobs/{job_id}").status_code == 200
    assert master.post_json(f"/v1/fine_tuning/jobs/{job_id}/cancel").json()["status"] == (
        "cancelled"
    )
    assert master.get(f"/v1/files/{file_id}").status_code == 200
