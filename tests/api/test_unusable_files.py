"""A file a job cannot use answers one code, whichever the key and the
cause: ``invalid_training_file`` (``invalid_validation_file`` for the
validation file), with ``param`` naming the field."""

from __future__ import annotations

import pytest

from ftproxy.models import FineTuningJob
from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db


def create(api, **files):
    return api.post_json("/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", **files})


def assert_unusable(response, param):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, f"invalid_{param}"), error
    assert error["type"] == "invalid_request_error"


@pytest.fixture
def user(api_as, make_key):
    return api_as(make_key("user"))


@pytest.fixture(params=["master", "user"])
def caller(request, master, user):
    return {"master": master, "user": user}[request.param]


def files_of(caller, param, file_id):
    good = caller.upload(TRAINING).json()["id"]
    if param == "training_file":
        return {"training_file": file_id}
    return {"training_file": good, "validation_file": file_id}


@pytest.mark.parametrize("param", ["training_file", "validation_file"])
def test_a_missing_file(sandbox, caller, param):
    assert_unusable(create(caller, **files_of(caller, param, "file-nowhere")), param)


@pytest.mark.parametrize("param", ["training_file", "validation_file"])
def test_a_file_of_another_purpose(sandbox, caller, param):
    other = caller.upload(b"hello\n", purpose="assistants", filename="notes.txt").json()["id"]
    assert_unusable(create(caller, **files_of(caller, param, other)), param)


@pytest.mark.parametrize("param", ["training_file", "validation_file"])
def test_another_keys_file(sandbox, master, user, param):
    theirs = master.upload(TRAINING).json()["id"]
    assert_unusable(create(user, **files_of(user, param, theirs)), param)


def test_a_raw_cloud_storage_uri_from_a_user_key(sandbox, user):
    assert_unusable(create(user, training_file="gs://bucket/train.jsonl"), "training_file")


def test_a_uri_of_another_provider(sandbox, master):
    assert_unusable(create(master, training_file="gs://bucket/train.jsonl"), "training_file")
    assert not FineTuningJob.objects.filter(ledger_state="ok").exists()
