"""Vertex AI files: OpenAI chat JSONL → Gemini tuning JSONL, and the
Cloud Storage objects that hold both."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import responses

from ftproxy.errors import ProviderInputError, ProviderNotFound, ProviderNotSupported
from ftproxy.providers.data import FileUpload
from ftproxy.providers.vertex.dataset import convert_jsonl

from .helpers import ACCESS_TOKEN, BUCKET, GCS, mock_token, provider


def jsonl(*lines) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def convert(*lines) -> list[dict]:
    target = io.BytesIO()
    convert_jsonl(io.BytesIO(jsonl(*lines)), target)
    return [json.loads(line) for line in target.getvalue().splitlines()]


def user(text):
    return {"role": "user", "content": text}


def assistant(text, **extra):
    return {"role": "assistant", "content": text, **extra}


# ---- conversion ---------------------------------------------------------


def test_system_message_becomes_the_system_instruction():
    [example] = convert(
        {"messages": [{"role": "system", "content": "Be brief."}, user("Hi"), assistant("Hello")]}
    )
    assert example == {
        "systemInstruction": {"role": "system", "parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
        ],
    }


def test_leading_developer_and_system_messages_all_join_the_system_instruction():
    [example] = convert(
        {
            "messages": [
                {"role": "developer", "content": "Rule one."},
                {"role": "system", "content": "Rule two."},
                user("Hi"),
                assistant("Hello"),
            ]
        }
    )
    assert example["systemInstruction"]["parts"] == [{"text": "Rule one."}, {"text": "Rule two."}]


def test_multi_turn_conversation_keeps_its_order_and_roles():
    [example] = convert({"messages": [user("1"), assistant("2"), user("3"), assistant("4")]})
    assert [(c["role"], c["parts"][0]["text"]) for c in example["contents"]] == [
        ("user", "1"),
        ("model", "2"),
        ("user", "3"),
        ("model", "4"),
    ]
    assert "systemInstruction" not in example


def test_text_parts_content_becomes_one_part_each():
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    [example] = convert({"messages": [{"role": "user", "content": content}, assistant("c")]})
    assert example["contents"][0]["parts"] == [{"text": "a"}, {"text": "b"}]


def test_tool_calls_and_tool_responses_become_function_call_and_response_parts():
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather.",
                "parameters": {"type": "object"},
            },
        }
    ]
    [example] = convert(
        {
            "messages": [
                user("Weather and time in Oslo?"),
                {"role": "assistant", "content": None, "tool_calls": calls},
                {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 3}'},
                {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
                assistant("3 degrees at noon."),
            ],
            "tools": tools,
        }
    )
    assert example["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}},
            {"functionCall": {"name": "time", "args": {}}},
        ],
    }
    # Parallel answers are one user turn, named after the matching calls.
    assert example["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "weather", "response": {"temp": 3}}},
            {"functionResponse": {"name": "time", "response": {"output": "12:00"}}},
        ],
    }
    assert example["tools"] == [
        {
            "functionDeclarations": [
                {"name": "weather", "description": "Weather.", "parameters": {"type": "object"}}
            ]
        }
    ]


def test_weight_one_is_accepted_and_not_passed_on():
    [example] = convert({"messages": [user("Hi"), assistant("Hello", weight=1)]})
    assert example["contents"][1] == {"role": "model", "parts": [{"text": "Hello"}]}


def test_weight_zero_is_refused_naming_the_line():
    good = {"messages": [user("Hi"), assistant("Hello")]}
    bad = {"messages": [user("Hi"), assistant("Meh", weight=0), user("?"), assistant("Yes")]}
    with pytest.raises(ProviderInputError) as caught:
        convert(good, bad)
    assert caught.value.status_code == 400
    assert caught.value.message.startswith("Line 2:")
    assert "weight" in caught.value.message


@pytest.mark.parametrize(
    "line",
    [
        {"messages": [user("Hi"), assistant("Hello"), {"role": "system", "content": "Late."}]},
        {"messages": [user("Hi"), {"role": "tool", "tool_call_id": "nope", "content": "x"}]},
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        },
        {
            "messages": [
                user("Hi"),
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{bad"},
                        }
                    ],
                },
            ]
        },
        {"messages": []},
        {"prompt": "Hi", "completion": "Hello"},
    ],
    ids=["late-system", "unmatched-tool", "image", "bad-arguments", "empty", "legacy-prompt"],
)
def test_lines_gemini_cannot_express_are_refused_with_their_line_number(line):
    with pytest.raises(ProviderInputError) as caught:
        convert({"messages": [user("ok"), assistant("ok")]}, line)
    assert caught.value.message.startswith("Line 2:")


# ---- Cloud Storage ------------------------------------------------------

CHAT = jsonl(
    {"messages": [{"role": "system", "content": "Be brief."}, user("Hi"), assistant("Hello")]},
    {"messages": [user("Bye"), assistant("Bye!")]},
)
CONVERTED = (
    b'{"systemInstruction":{"role":"system","parts":[{"text":"Be brief."}]},'
    b'"contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"model","parts":[{"text":"Hello"}]}]}\n'
    b'{"contents":[{"role":"user","parts":[{"text":"Bye"}]},{"role":"model","parts":[{"text":"Bye!"}]}]}\n'
)
INIT_URL = f"{GCS}/upload/storage/v1/b/{BUCKET}/o"


def upload(data: bytes, purpose="fine-tune", filename="train data.jsonl") -> FileUpload:
    return FileUpload(
        filename=filename,
        purpose=purpose,
        stream=io.BytesIO(data),
        size=len(data),
        content_type="application/jsonl",
    )


def mock_resumable(rsps, puts: list):
    """Each session POST answers with a session URI; each PUT records its body."""
    sessions = iter(range(100))

    def start(request):
        return 200, {"Location": f"{GCS}/upload/session/{next(sessions)}"}, ""

    def put(request):
        body = request.body
        data = b"".join(body) if not isinstance(body, bytes | None) else body or b""
        assert request.headers["Content-Length"] == str(len(data))
        puts.append((request.url, request.headers.get("Content-Type"), data))
        return 200, {}, json.dumps({"name": "x"})

    rsps.add_callback(responses.POST, INIT_URL, callback=start)
    for session in range(2):
        rsps.add_callback(responses.PUT, f"{GCS}/upload/session/{session}", callback=put)


def test_fine_tune_upload_keeps_the_original_and_stores_the_converted_copy():
    puts = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_token(rsps)
        mock_resumable(rsps, puts)
        remote = provider(api="files_settings").upload_file(upload(CHAT))
        sessions = [c.request for c in rsps.calls if c.request.url.startswith(INIT_URL)]

    assert len(sessions) == 2
    names = [parse_qs(urlsplit(r.url).query)["name"][0] for r in sessions]
    for request in sessions:
        query = parse_qs(urlsplit(request.url).query)
        assert query["uploadType"] == ["resumable"]
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert [r.headers["X-Upload-Content-Length"] for r in sessions] == [
        str(len(CHAT)),
        str(len(CONVERTED)),
    ]
    original, training = names
    assert original.startswith("team-a/ftproxy/") and original.endswith("/train_data.jsonl")
    assert training == original.rsplit("/", 1)[0] + "/gemini/train_data.jsonl"
    assert [p[2] for p in puts] == [CHAT, CONVERTED]
    assert puts[1][1] == "application/jsonl"
    assert remote.remote_id == f"gs://{BUCKET}/{training}"
    assert (remote.bytes, remote.purpose, remote.filename) == (
        len(CHAT),
        "fine-tune",
        "train data.jsonl",
    )


def test_other_purposes_are_stored_once_unchanged():
    puts = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_token(rsps)
        mock_resumable(rsps, puts)
        remote = provider(api="files_settings").upload_file(
            upload(b"not json at all", purpose="batch", filename="in.txt")
        )
    assert [p[2] for p in puts] == [b"not json at all"]
    assert remote.remote_id.startswith(f"gs://{BUCKET}/team-a/ftproxy/")
    assert remote.remote_id.endswith("/in.txt") and "/gemini/" not in remote.remote_id


def test_a_malformed_line_is_refused_before_any_request():
    data = CHAT + b"{not json\n"
    with responses.RequestsMock() as rsps:
        with pytest.raises(ProviderInputError) as caught:
            provider(api="files_settings").upload_file(upload(data))
        assert not rsps.calls
    assert caught.value.message.startswith("Line 3:")


def test_upload_without_a_bucket_is_refused():
    with pytest.raises(ProviderNotSupported) as caught:
        provider(gcs_bucket_name=None).upload_file(upload(CHAT))
    assert caught.value.status_code == 400
    assert "gcs_bucket_name" in caught.value.message


FOLDER = "team-a/ftproxy/0123456789abcdef0123456789abcdef"
TRAINING_URI = f"gs://{BUCKET}/{FOLDER}/gemini/train.jsonl"


def object_url(name):
    return f"{GCS}/storage/v1/b/{BUCKET}/o/{quote(name, safe='')}"


def test_content_of_a_fine_tune_file_streams_the_original_bytes():
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(
            responses.GET,
            object_url(f"{FOLDER}/train.jsonl"),
            body=CHAT,
            content_type="application/jsonl",
        )
        content = provider().file_content(TRAINING_URI)
        assert b"".join(content.chunks) == CHAT
        content.close()
        assert parse_qs(urlsplit(rsps.calls[-1].request.url).query) == {"alt": ["media"]}


def test_delete_removes_the_converted_copy_and_the_original():
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(responses.DELETE, object_url(f"{FOLDER}/gemini/train.jsonl"), status=204)
        rsps.add(responses.DELETE, object_url(f"{FOLDER}/train.jsonl"), status=204)
        provider().delete_file(TRAINING_URI)


def test_delete_of_a_missing_file_is_not_found():
    body = {"error": {"code": 404, "message": "No such object.", "status": "NOT_FOUND"}}
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(
            responses.DELETE, object_url(f"{FOLDER}/gemini/train.jsonl"), json=body, status=404
        )
        rsps.add(responses.DELETE, object_url(f"{FOLDER}/train.jsonl"), json=body, status=404)
        with pytest.raises(ProviderNotFound) as caught:
            provider().delete_file(TRAINING_URI)
    assert caught.value.status_code == 404
