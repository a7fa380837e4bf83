"""The destination's dataset rules at job create: checked before anything
goes upstream, a 400 that names the rule; the sandbox rehearses OpenAI's."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import responses

from ftproxy.errors import ProviderInputError
from ftproxy.models import FineTuningJob
from ftproxy.providers.data import FileUpload, JobCreate
from ftproxy.providers.openai import OpenAIProvider
from ftproxy.providers.sandbox import SandboxProvider
from ftproxy.providers.vertex import VertexProvider
from ftproxy.validation import validate_fine_tune_file
from ftproxy.validation.provider_rules import base_model, check_training_file, example_token_limit
from tests.conftest import TRAINING, chat_line, jsonl
from tests.factories import ledger_file

pytestmark = pytest.mark.django_db

NINE = jsonl(*(chat_line(f"q{i}", f"a{i}") for i in range(9)))


def create(api, training_file, model="gpt-4o-mini"):
    return api.post_json("/v1/fine_tuning/jobs", {"model": model, "training_file": training_file})


def test_the_sandbox_refuses_fewer_than_ten_examples_before_creating_anything(master, sandbox):
    file_id = master.upload(NINE).json()["id"]
    response = create(master, file_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("training_file", "invalid_n_examples")
    assert "9 example(s)" in error["message"] and "at least 10" in error["message"]
    assert not FineTuningJob.objects.exists()
    assert create(master, master.upload(TRAINING).json()["id"]).status_code == 200


@pytest.mark.parametrize("kind", ["openai", "azure"])
def test_openai_and_azure_need_ten_examples_and_nothing_goes_upstream(gateway_config, master, kind):
    entry = {"custom_llm_provider": kind, "api_key": "sk-up", "api_base": "https://up.test"}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    ledger_file("file-nine", provider=kind, examples=9, max_example_tokens=20)
    with responses.RequestsMock():  # any upstream call would fail the test
        response = create(master, "file-nine")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_n_examples"
    assert kind in response.json()["error"]["message"]


def test_an_example_over_the_models_token_limit_is_refused(gateway_config, master):
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": "https://up.test"}
    gateway_config({"finetune_settings": [entry], "files_settings": [dict(entry)]})
    ledger_file("file-long", examples=50, max_example_tokens=70_000)
    with responses.RequestsMock():
        response = create(master, "file-long", model="gpt-4o-mini-2024-07-18")
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == "training_file"
    assert "65536-token limit of gpt-4o-mini-2024-07-18" in error["message"]


LIMITS = OpenAIProvider.example_token_limits


def test_model_names_map_to_their_base_models_limits():
    assert base_model("ft:gpt-4o-mini-2024-07-18:org::abc") == "gpt-4o-mini-2024-07-18"
    assert base_model("gpt-4o-mini-2024-07-18.ft-123abc") == "gpt-4o-mini-2024-07-18"
    assert example_token_limit("gpt-3.5-turbo-0613", LIMITS) == 4_096
    assert example_token_limit("gpt-3.5-turbo-0125", LIMITS) == 16_385
    assert example_token_limit("gpt-4-0613", LIMITS) == 8_192
    assert example_token_limit("gpt-35-turbo-0125", LIMITS) == 16_385  # Azure's spelling
    assert example_token_limit("gpt-4.1-2025-04-14", LIMITS) is None  # not documented: no rule
    assert (
        check_training_file(VertexProvider, "gemini-2.5-flash", examples=1, max_example_tokens=1)
        is None
    )
    assert (
        check_training_file(OpenAIProvider, "gpt-4o", examples=None, max_example_tokens=None)
        is None
    )


def test_uploads_record_their_example_count_and_longest_example(master, sandbox):
    from ftproxy.models import File

    long = chat_line("x" * 400, "y")
    master.upload(jsonl(*[chat_line()] * 11, long))
    row = File.objects.get()
    assert row.examples == 12
    assert row.max_example_tokens >= 100


def test_the_sandbox_provider_itself_refuses_fewer_than_ten_examples(tmp_path):
    provider = SandboxProvider({"name": "sandbox", "storage_dir": str(tmp_path)})
    upload = FileUpload(
        filename="t.jsonl",
        purpose="fine-tune",
        stream=io.BytesIO(NINE + b"\n\n"),
        size=len(NINE) + 2,
        content_type="application/jsonl",
    )
    remote = provider.upload_file(upload)
    with pytest.raises(ProviderInputError) as caught:
        provider.create_job(JobCreate(model="gpt-4o-mini", training_file=remote.remote_id))
    assert caught.value.code == "invalid_n_examples" and caught.value.param == "training_file"


def test_the_readme_example_file_passes_the_rules():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    body = re.search(r"cat > train\.jsonl <<'JSONL'\n(.*?)\nJSONL", readme, re.S)[1]
    validator = validate_fine_tune_file(io.BytesIO(body.encode() + b"\n"))
    assert not validator.errors
    assert (
        check_training_file(
            SandboxProvider,
            "gpt-4o-mini",
            examples=validator.examples,
            max_example_tokens=validator.max_example_tokens,
        )
        is None
    )
