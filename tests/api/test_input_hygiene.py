"""What no field may hold is a 400 naming the field, before anything is
stored, on both databases: NUL bytes (PostgreSQL refuses them), lone
surrogates (SQLite and UTF-8 refuse them), nesting Python cannot parse;
forms where JSON is needed are 415, bodies over the limit 413, a body
without a length 411."""

from __future__ import annotations

import io

import pytest

from ftproxy.models import AuditEntry, FineTuningJob
from tests.conftest import TRAINING

pytestmark = pytest.mark.django_db


def post_raw(client, path: str, body: str, **extra):
    return client.post(
        path,
        body.encode("utf-8", "surrogatepass"),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sk-test-master",
        **extra,
    )


@pytest.mark.parametrize(
    "fragment, param",
    [
        ('"metadata": {"team": "a\\ud800"}', "metadata.team"),
        ('"metadata": {"team": "a\\u0000b"}', "metadata.team"),
        ('"suffix": "x\\udfff"', "suffix"),
        ('"metadata": {"k\\u0000": "v"}', "metadata"),
    ],
)
def test_unstorable_text_in_a_job_is_a_400_naming_the_field(sandbox, client, fragment, param):
    body = '{"model": "gpt-4o-mini", "training_file": "file-x", ' + fragment + "}"
    response = post_raw(client, "/v1/fine_tuning/jobs", body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param
    assert not FineTuningJob.objects.exists()
    # and nothing is broken for anyone afterwards
    listed = client.get("/v1/fine_tuning/jobs", HTTP_AUTHORIZATION="Bearer sk-test-master")
    assert listed.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/files/file-%00x",
        "/v1/files/file-%00x/content",
        "/v1/fine_tuning/jobs/ftjob-%00",
        "/v1/fine_tuning/jobs/ftjob-%00/events",
        "/v1/fine_tuning/jobs/ftjob-%00/checkpoints",
        "/v1/fine_tuning/jobs?metadata[a]=%00",
        "/v1/fine_tuning/jobs?after=%00",
        "/v1/fine_tuning/jobs/ftjob-1/events?after=%00",
        "/v1/fine_tuning/jobs/ftjob-1/checkpoints?after=%00",
        "/v1/files?purpose=%00",
    ],
)
def test_nul_bytes_in_ids_and_queries_are_a_400_with_an_audit_row(sandbox, master, path):
    response = master.get(path)
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["error"]["message"]
    assert AuditEntry.objects.get(request_id=response["x-request-id"]).status_code == 400


def test_a_nul_byte_in_the_idempotency_key_is_a_400(sandbox, master):
    response = master.post_json(
        "/v1/fine_tuning/jobs",
        {"model": "m", "training_file": "f"},
        headers={"Idempotency-Key": "a\x00b"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"


@pytest.mark.parametrize("depth", [40, 5000, 100_000])
def test_deeply_nested_json_is_a_400(sandbox, client, depth):
    body = '{"model": "m", "training_file": "f", "hyperparameters": ' + "[" * depth + "]" * depth
    response = post_raw(client, "/v1/fine_tuning/jobs", body + "}")
    assert response.status_code == 400, response.content[:200]
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


BEYOND_FLOAT = "1" + "0" * 400


@pytest.mark.parametrize(
    "hyperparameters, param",
    [
        ('{"n_epochs": ' + BEYOND_FLOAT + "}", "n_epochs"),
        ('{"batch_size": -' + BEYOND_FLOAT + "}", "batch_size"),
        ('{"learning_rate_multiplier": ' + BEYOND_FLOAT + "}", "learning_rate_multiplier"),
    ],
)
@pytest.mark.parametrize("under_method", [False, True])
def test_integers_beyond_float_range_in_hyperparameters_are_a_400(
    sandbox, client, hyperparameters, param, under_method
):
    if under_method:
        supervised = '{"hyperparameters": ' + hyperparameters + "}"
        fragment = '"method": {"type": "supervised", "supervised": ' + supervised + "}"
    else:
        fragment = '"hyperparameters": ' + hyperparameters
    body = '{"model": "gpt-4o-mini", "training_file": "file-x", ' + fragment + "}"
    response = post_raw(client, "/v1/fine_tuning/jobs", body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"].endswith(param) and "finite" in error["message"], error
    assert not FineTuningJob.objects.exists()


@pytest.mark.parametrize(
    "fragment, param",
    [
        ('"hyperparameters": {"lora_alpha": 1e400}', "hyperparameters.lora_alpha"),
        ('"metadata": {"k": "v"}, "seed": -1e400', "seed"),
        (
            '"method": {"type": "supervised", "supervised": {"hyperparameters": '
            '{"learning_rate": -1e999}}}',
            "method.supervised.hyperparameters.learning_rate",
        ),
    ],
)
def test_a_number_past_the_float_range_anywhere_is_a_400_naming_it(
    sandbox, client, fragment, param
):
    """``1e400`` parses as infinity, which no JSON column takes: a 400 naming
    the field, before anything is recorded (a provider's own
    hyperparameters, passed on as sent, included)."""
    body = '{"model": "gpt-4o-mini", "training_file": "file-x", ' + fragment + "}"
    response = post_raw(client, "/v1/fine_tuning/jobs", body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"] == param and "too large" in error["message"], error
    assert not FineTuningJob.objects.exists()


def test_a_form_encoded_job_create_is_a_415(sandbox, client):
    response = client.post(
        "/v1/fine_tuning/jobs",
        {"model": "gpt-4o-mini", "training_file": "file-x", "integrations": "oops"},
        HTTP_AUTHORIZATION="Bearer sk-test-master",
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]
    assert not FineTuningJob.objects.exists()


def test_two_file_parts_are_a_400(sandbox, client):
    first, second = io.BytesIO(TRAINING), io.BytesIO(TRAINING)
    first.name, second.name = "a.jsonl", "b.jsonl"
    response = client.post(
        "/v1/files",
        {"purpose": "fine-tune", "file": [first, second]},
        HTTP_AUTHORIZATION="Bearer sk-test-master",
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_a_json_body_over_the_limit_is_a_413(sandbox, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"model": "m", "training_file": "f", "suffix": "' + "x" * 2000 + '"}'
    response = post_raw(client, "/v1/fine_tuning/jobs", body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_oversized_form_fields_are_a_413(sandbox, master, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = master.upload(TRAINING, extra={"custom_llm_provider": "x" * 5000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_chunked_body_this_server_cannot_read_is_a_411(sandbox, client):
    response = client.generic(
        "POST",
        "/v1/files",
        b"",
        content_type="multipart/form-data; boundary=x",
        HTTP_AUTHORIZATION="Bearer sk-test-master",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]["message"]
