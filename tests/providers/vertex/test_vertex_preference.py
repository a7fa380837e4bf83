"""Vertex AI preference tuning: OpenAI DPO JSONL → Vertex preference examples,
the ``preferenceOptimizationSpec`` job body, and the job read back as DPO."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import responses

from ftproxy.errors import ProviderInputError
from ftproxy.providers.data import FileUpload, JobCreate
from ftproxy.providers.vertex.dataset import convert_jsonl

from .helpers import API, BUCKET, GCS, JOB_URL, mock_token, provider, tuning_job

FOLDER = "team-a/ftproxy/0123456789abcdef0123456789abcdef"
DPO_TRAIN = f"gs://{BUCKET}/{FOLDER}/gemini-preference/train.jsonl"
DPO_VALID = f"gs://{BUCKET}/{FOLDER}/gemini-preference/valid.jsonl"
CHAT_TRAIN = f"gs://{BUCKET}/{FOLDER}/gemini/train.jsonl"


def jsonl(*lines) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def convert(*lines) -> list[dict]:
    target = io.BytesIO()
    result = convert_jsonl(io.BytesIO(jsonl(*lines)), target)
    assert result.format == "preference"
    return [json.loads(line) for line in target.getvalue().splitlines()]


def msg(role, text, **extra):
    return {"role": role, "content": text, **extra}


def dpo(messages, preferred="Paris.", other="I think it is Lyon.", **extra):
    return {
        "input": {"messages": messages},
        "preferred_output": [msg("assistant", preferred)],
        "non_preferred_output": [msg("assistant", other)],
        **extra,
    }


# ---- conversion, line by line ------------------------------------------


def test_a_dpo_line_becomes_a_prompt_and_a_scored_pair_of_completions():
    [example] = convert(
        dpo([msg("system", "Be brief."), msg("user", "Capital of France?")], "Paris.", "Lyon.")
    )
    assert example == {
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
        "completions": [
            {"score": 1, "completion": {"role": "model", "parts": [{"text": "Paris."}]}},
            {"score": 0, "completion": {"role": "model", "parts": [{"text": "Lyon."}]}},
        ],
    }


def test_a_multi_turn_prompt_keeps_its_turns_and_the_older_spelling_is_read():
    line = {
        "input": {
            "messages": [msg("user", "1"), msg("assistant", "2"), msg("user", "3")],
            "parallel_tool_calls": False,
        },
        "preferred_completion": [msg("assistant", "good"), msg("assistant", "and more")],
        "non_preferred_completion": [msg("assistant", [{"type": "text", "text": "bad"}])],
    }
    [example] = convert(line)
    assert [(c["role"], c["parts"][0]["text"]) for c in example["contents"]] == [
        ("user", "1"),
        ("model", "2"),
        ("user", "3"),
    ]
    # Several assistant messages are one model turn of several parts.
    assert example["completions"][0]["completion"]["parts"] == [
        {"text": "good"},
        {"text": "and more"},
    ]
    assert example["completions"][1]["completion"]["parts"] == [{"text": "bad"}]
    assert "system_instruction" not in example


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (dpo([msg("user", "Hi"), msg("assistant", "Hello")]), "end with a user message"),
        (
            dpo([msg("user", "Hi")], extra_key=1),
            "'extra_key' has no Vertex AI preference-tuning equivalent",
        ),
        (
            {**dpo([msg("user", "Hi")]), "preferred_completion": [msg("assistant", "x")]},
            "one spelling",
        ),
        (
            {"input": {"messages": [msg("user", "Hi")]}, "preferred_output": []},
            "'preferred_output' must be a non-empty list",
        ),
        (
            {
                "input": {"messages": [msg("user", "Hi")]},
                "preferred_output": [msg("user", "x")],
                "non_preferred_output": [msg("assistant", "y")],
            },
            "preferred_output[0]: a completion holds assistant messages only",
        ),
        (
            {
                "input": {
                    "messages": [msg("user", "Hi")],
                    "tools": [{"type": "function", "function": {"name": "f"}}],
                },
                "preferred_output": [msg("assistant", "x")],
                "non_preferred_output": [msg("assistant", "y")],
            },
            "input.tools",
        ),
        (
            dpo([msg("user", "Hi"), msg("system", "Late."), msg("user", "?")]),
            "input.messages[1]: a system message after the conversation started",
        ),
        (
            dpo([msg("user", [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])]),
            "input.messages[0]: content part type 'image_url' is not supported",
        ),
        (
            {
                "input": {"messages": [msg("user", "Hi")]},
                "preferred_output": [
                    {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}
                ],
                "non_preferred_output": [msg("assistant", "y")],
            },
            "preferred_output[0]: tool calls are not supported",
        ),
    ],
)
def test_lines_vertex_preference_tuning_cannot_express_are_refused_naming_the_line(line, words):
    good = dpo([msg("user", "Hi")])
    with pytest.raises(ProviderInputError) as caught:
        convert(good, line)
    assert caught.value.status_code == 400
    assert caught.value.param == "file"
    assert caught.value.message.startswith("Line 2: ")
    assert words in caught.value.message


def test_a_file_mixing_chat_and_preference_lines_is_refused_at_the_first_other_line():
    chat = {"messages": [msg("user", "Hi"), msg("assistant", "Hello")]}
    with pytest.raises(ProviderInputError) as caught:
        convert_jsonl(io.BytesIO(jsonl(dpo([msg("user", "Hi")]), chat)), io.BytesIO())
    assert caught.value.message.startswith("Line 2: a chat example in a file of preference")


def test_a_dpo_upload_is_stored_in_the_preference_folder_beside_the_original():
    data = jsonl(dpo([msg("user", "Capital?")]), dpo([msg("user", "Again?")]))
    names, puts = [], []
    with responses.RequestsMock() as rsps:
        mock_token(rsps)

        def start(request):
            names.append(parse_qs(urlsplit(request.url).query)["name"][0])
            return 200, {"Location": f"{GCS}/upload/session/{len(names)}"}, ""

        def put(request):
            puts.append(b"".join(request.body))
            return 200, {}, "{}"

        rsps.add_callback(responses.POST, f"{GCS}/upload/storage/v1/b/{BUCKET}/o", callback=start)
        for session in (1, 2):
            rsps.add_callback(responses.PUT, f"{GCS}/upload/session/{session}", callback=put)
        remote = provider(api="files_settings").upload_file(
            FileUpload("train.jsonl", "fine-tune", io.BytesIO(data), len(data))
        )
    original, converted = names
    assert converted == original.rsplit("/", 1)[0] + "/gemini-preference/train.jsonl"
    assert remote.remote_id == f"gs://{BUCKET}/{converted}"
    assert remote.raw["format"] == "preference" and remote.raw["examples"] == 2
    assert puts[0] == data
    assert [json.loads(line)["completions"][0]["score"] for line in puts[1].splitlines()] == [1, 1]


def test_deleting_a_dpo_file_removes_the_converted_copy_and_the_original():
    def url(name):
        return f"{GCS}/storage/v1/b/{BUCKET}/o/{quote(name, safe='')}"

    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(responses.DELETE, url(f"{FOLDER}/gemini-preference/train.jsonl"), status=204)
        rsps.add(responses.DELETE, url(f"{FOLDER}/train.jsonl"), status=204)
        provider().delete_file(DPO_TRAIN)


# ---- the job ------------------------------------------------------------


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        mock_token(mock)
        yield mock


def dpo_method(**hyperparameters):
    return {"type": "dpo", "dpo": {"hyperparameters": hyperparameters}}


def create(rsps, **fields):
    fields.setdefault("model", "gemini-2.5-flash")
    fields.setdefault("training_file", DPO_TRAIN)
    rsps.add(responses.POST, f"{API}/tuningJobs", json=tuning_job("JOB_STATE_PENDING"))
    provider().create_job(JobCreate(**fields))
    return json.loads(rsps.calls[-1].request.body)


def test_a_dpo_job_becomes_a_preference_optimization_spec(rsps):
    body = create(
        rsps,
        validation_file=DPO_VALID,
        method=dpo_method(n_epochs=2, beta=0.1, learning_rate_multiplier=0.5, adapter_size=4),
        suffix="prefs",
    )
    assert body == {
        "baseModel": "gemini-2.5-flash",
        "preferenceOptimizationSpec": {
            "trainingDatasetUri": DPO_TRAIN,
            "validationDatasetUri": DPO_VALID,
            "hyperParameters": {
                "epochCount": 2,
                "beta": 0.1,
                "learningRateMultiplier": 0.5,
                "adapterSize": "ADAPTER_SIZE_FOUR",
            },
        },
        "tunedModelDisplayName": "prefs",
    }


def test_auto_dpo_hyperparameters_are_left_to_vertex(rsps):
    body = create(rsps, method=dpo_method(beta="auto", n_epochs="auto", batch_size="auto"))
    assert body["preferenceOptimizationSpec"] == {"trainingDatasetUri": DPO_TRAIN}


@pytest.mark.parametrize(
    ("method", "param"),
    [
        (dpo_method(beta=0), "method.dpo.hyperparameters.beta"),
        (dpo_method(beta="high"), "method.dpo.hyperparameters.beta"),
        (dpo_method(batch_size=8), "method.dpo.hyperparameters.batch_size"),
        (dpo_method(seed_everything=1), "method.dpo.hyperparameters.seed_everything"),
        ({"type": "dpo", "dpo": {"other": 1}}, "method.dpo.other"),
        ({"type": "dpo", "supervised": {}}, "method.supervised"),
        ({"type": "reinforcement"}, "method.type"),
    ],
)
def test_dpo_settings_vertex_cannot_honour_are_refused_by_name(method, param):
    with responses.RequestsMock() as rsps:
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(
                JobCreate(model="gemini-2.5-flash", training_file=DPO_TRAIN, method=method)
            )
        assert not rsps.calls
    assert (caught.value.status_code, caught.value.param) == (400, param)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"training_file": CHAT_TRAIN, "method": dpo_method()}, "training_file"),
        ({"validation_file": CHAT_TRAIN, "method": dpo_method()}, "validation_file"),
        ({"training_file": DPO_TRAIN, "method": None}, "training_file"),
    ],
)
def test_a_file_of_the_other_format_is_refused_before_vertex_sees_it(fields, param):
    job = JobCreate(**{"model": "gemini-2.5-flash", "training_file": DPO_TRAIN, **fields})
    with responses.RequestsMock() as rsps:
        with pytest.raises(ProviderInputError) as caught:
            provider().create_job(job)
        assert not rsps.calls
    assert caught.value.param == param
    assert "examples" in caught.value.message


def test_a_raw_gs_uri_of_unknown_format_is_left_to_vertex(rsps):
    body = create(rsps, training_file="gs://elsewhere/prefs.jsonl", method=dpo_method())
    assert body["preferenceOptimizationSpec"]["trainingDatasetUri"] == "gs://elsewhere/prefs.jsonl"


def test_a_preference_job_reads_back_as_dpo_with_its_hyperparameters(rsps):
    payload = tuning_job(
        "JOB_STATE_SUCCEEDED",
        endTime="2025-03-01T11:00:00Z",
        preferenceOptimizationSpec={
            "trainingDatasetUri": DPO_TRAIN,
            "hyperParameters": {
                "epochCount": "2",
                "beta": 0.1,
                "learningRateMultiplier": 1.0,
                "adapterSize": "ADAPTER_SIZE_EIGHT",
            },
        },
        tuningDataStats={"preferenceOptimizationDataStats": {"totalBillableTokenCount": "700"}},
    )
    del payload["supervisedTuningSpec"]
    rsps.add(responses.GET, JOB_URL, json=payload)
    job = provider().retrieve_job(payload["name"])
    assert job.method == {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "n_epochs": 2,
                "beta": 0.1,
                "learning_rate_multiplier": 1.0,
                "batch_size": "auto",
                "adapter_size": 8,
            }
        },
    }
    assert job.hyperparameters == {
        "n_epochs": 2,
        "learning_rate_multiplier": 1.0,
        "batch_size": "auto",
    }
    assert job.training_file == DPO_TRAIN
    assert job.trained_tokens == 1400  # billable tokens × epochs
