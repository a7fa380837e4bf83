"""Specification of the fine-tune JSONL validator (no database needed)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ftproxy.validation import FineTuneValidator, LineError, validate_fine_tune_file

SYSTEM = {"role": "system", "content": "You are terse."}
USER = {"role": "user", "content": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": list(messages or (USER, ASSISTANT)), **extra}


def dpo(**overrides: Any) -> dict[str, Any]:
    example: dict[str, Any] = {
        "input": {"messages": [USER], "tools": [], "parallel_tool_calls": True},
        "preferred_output": [{"role": "assistant", "content": "Hello there, friend."}],
        "non_preferred_output": [{"role": "assistant", "content": "What."}],
    }
    example.update(overrides)
    return example


def jsonl(*lines: Any) -> bytes:
    """Lines given as dicts are dumped as JSON; bytes and str are taken as they are."""
    out = []
    for line in lines:
        if isinstance(line, bytes):
            out.append(line)
        elif isinstance(line, str):
            out.append(line.encode())
        else:
            out.append(json.dumps(line).encode())
    return b"\n".join(out) + b"\n"


def validate(*lines: Any, max_errors: int = 20) -> FineTuneValidator:
    return validate_fine_tune_file(io.BytesIO(jsonl(*lines)), max_errors=max_errors)


def only_error(v: FineTuneValidator) -> LineError:
    assert v.error_count == 1, v.errors
    return v.errors[0]


# ---------------------------------------------------------------------------
# Valid files
# ---------------------------------------------------------------------------


def test_valid_chat_file_counts_examples_and_sets_format() -> None:
    v = validate(
        chat(SYSTEM, USER, ASSISTANT),
        chat(
            {"role": "developer", "content": "Be nice."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
            {"role": "assistant", "content": "It is sunny.", "weight": 1},
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
            parallel_tool_calls=False,
        ),
        "",
        chat(
            USER,
            {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": "42"},
            {"role": "assistant", "content": "Draft", "weight": 0},
            functions=[{"name": "f", "parameters": {}}],
        ),
    )
    assert v.errors == []
    assert v.is_valid
    assert v.examples == 3
    assert v.format == "chat"
    assert v.summary().startswith("Valid fine-tuning file: 3 chat examples")


def test_valid_preference_file_counts_examples_and_sets_format() -> None:
    v = validate(
        dpo(),
        dpo(
            input={"messages": [SYSTEM, USER, ASSISTANT, USER]},
            preferred_output=[{"role": "assistant", "content": [{"type": "text", "text": "A"}]}],
        ),
    )
    assert v.errors == []
    assert v.examples == 2
    assert v.format == "preference"


def test_preference_spelling_of_the_openapi_schema_is_accepted() -> None:
    example = dpo()
    example["preferred_completion"] = example.pop("preferred_output")
    example["non_preferred_completion"] = example.pop("non_preferred_output")
    v = validate(example)
    assert v.errors == []
    assert v.format == "preference"


def test_blank_and_whitespace_lines_are_skipped_but_counted() -> None:
    v = validate("", "   \t", chat(), "", {"messages": "nope"})
    assert v.examples == 1
    assert only_error(v).line == 5


def test_crlf_line_endings_and_a_leading_bom_are_accepted() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(chat()).encode() + b"\r\n" + json.dumps(chat()).encode()
    v = validate_fine_tune_file(io.BytesIO(body))
    assert v.errors == []
    assert v.examples == 2


def test_last_line_without_newline_is_validated() -> None:
    v = validate_fine_tune_file(io.BytesIO(jsonl(chat()) + b'{"messages": 1}'))
    assert only_error(v).line == 2


# ---------------------------------------------------------------------------
# Line-level errors
# ---------------------------------------------------------------------------


def test_bad_json_is_rejected_with_its_line() -> None:
    v = validate(chat(), '{"messages": [', chat())
    error = only_error(v)
    assert error.line == 2
    assert "not valid JSON" in error.message
    assert v.examples == 2


def test_nan_is_not_json_and_is_rejected_with_its_line() -> None:
    error = only_error(validate('{"messages": [], "x": NaN}'))
    assert error.line == 1
    assert "NaN" in error.message


def test_line_that_is_not_an_object_is_rejected_with_its_line() -> None:
    error = only_error(validate(chat(), "[1, 2]"))
    assert error == LineError(2, "each line must be a JSON object, not array")


def test_invalid_utf8_is_rejected_with_its_line() -> None:
    v = validate(chat(), b'{"messages": "\xff\xfe"}')
    error = only_error(v)
    assert error.line == 2
    assert "UTF-8" in error.message


def test_missing_messages_is_rejected_with_its_line() -> None:
    error = only_error(validate(chat(), {"prompt": "a", "completion": "b"}))
    assert error.line == 2
    assert error.message.startswith("messages: is required")


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ("hi", "messages: must be a non-empty array of messages, not string"),
        ([], "messages: must not be empty"),
        ([USER, "hello"], "messages[1]: must be a message object, not string"),
        ([{"content": "x"}, ASSISTANT], "messages[0].role: is required"),
    ],
)
def test_bad_messages_shapes_are_rejected_with_path(messages: Any, expected: str) -> None:
    error = only_error(validate({"messages": messages}))
    assert error == LineError(1, expected)


def test_bad_role_is_rejected_with_its_line() -> None:
    v = validate(chat(), chat(SYSTEM, USER, {"role": "robot", "content": "beep"}, ASSISTANT))
    assert only_error(v) == LineError(
        2,
        "messages[2].role: 'robot' is not one of system, developer, user, assistant, tool, "
        "function",
    )


@pytest.mark.parametrize("content", [42, {"text": "hi"}, True])
def test_bad_content_type_is_rejected_with_its_line(content: Any) -> None:
    error = only_error(validate(chat(), chat({"role": "user", "content": content}, ASSISTANT)))
    assert error.line == 2
    assert error.message.startswith(
        "messages[0].content: must be a string or an array of content parts, not "
    )


@pytest.mark.parametrize("role", ["user", "system", "tool"])
def test_null_content_is_rejected_outside_assistant_tool_calls(role: str) -> None:
    message = {"role": role, "content": None, "tool_call_id": "c1"}
    error = only_error(validate(chat(message, ASSISTANT)))
    assert error.message.startswith("messages[0].content: must not be null")


def test_assistant_without_content_or_calls_is_rejected() -> None:
    error = only_error(validate(chat(USER, {"role": "assistant"})))
    assert error.message.startswith("messages[1].content: is required")


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("text", "messages[0].content[0]: must be a content part object, not string"),
        ({"text": "hi"}, "messages[0].content[0].type: is required (a string such as 'text')"),
        ({"type": "text"}, "messages[0].content[0].text: must be a string, not null"),
        ({"type": "text", "text": 5}, "messages[0].content[0].text: must be a string, not number"),
        (
            {"type": "image_url", "image_url": "http://x"},
            "messages[0].content[0].image_url: must be an object with a string 'url'",
        ),
    ],
)
def test_bad_content_part_is_rejected_with_path(part: Any, expected: str) -> None:
    error = only_error(validate(chat({"role": "user", "content": [part]}, ASSISTANT)))
    assert error == LineError(1, expected)


def test_empty_content_part_list_is_rejected() -> None:
    error = only_error(validate(chat({"role": "user", "content": []}, ASSISTANT)))
    assert error == LineError(1, "messages[0].content: must not be an empty array")


def test_chat_example_without_assistant_message_is_rejected_with_its_line() -> None:
    v = validate(chat(), chat(SYSTEM, USER))
    assert only_error(v) == LineError(2, "messages: needs at least one assistant message")


def test_weight_on_user_message_is_rejected_with_its_line() -> None:
    v = validate(chat(), chat(), chat({"role": "user", "content": "x", "weight": 1}, ASSISTANT))
    assert only_error(v) == LineError(
        3, "messages[0].weight: only assistant messages may have a weight (role is 'user')"
    )


@pytest.mark.parametrize(
    ("weight", "shown"), [(2, "2"), (0.5, "0.5"), (True, "true"), ("1", "'1'")]
)
def test_assistant_weight_other_than_0_or_1_is_rejected(weight: Any, shown: str) -> None:
    v = validate(chat(USER, {"role": "assistant", "content": "x", "weight": weight}))
    assert only_error(v) == LineError(1, f"messages[1].weight: must be 0 or 1, not {shown}")


def test_tool_message_needs_tool_call_id() -> None:
    error = only_error(validate(chat(USER, {"role": "tool", "content": "x"}, ASSISTANT)))
    assert error.message.startswith("messages[1].tool_call_id: is required")


def test_tool_calls_on_a_user_message_are_rejected() -> None:
    message = {"role": "user", "content": "x", "tool_calls": []}
    error = only_error(validate(chat(message, ASSISTANT)))
    assert error.message.startswith("messages[0].tool_calls: only assistant messages")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tools": {}}, "tools: must be an array, not object"),
        ({"tools": [{"type": "function"}]}, "tools[0].function: must be an object"),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls: must be true or false"),
        ({"functions": [{"description": "no name"}]}, "functions[0]: must be an object"),
    ],
)
def test_bad_top_level_tool_keys_are_rejected(extra: dict[str, Any], expected: str) -> None:
    error = only_error(validate(chat(**extra)))
    assert error.line == 1
    assert error.message.startswith(expected)


# ---------------------------------------------------------------------------
# Preference (DPO) shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ({k: v for k, v in dpo().items() if k != "input"}, "input: is required"),
        (dpo(input=[USER]), "input: must be an object, not array"),
        (dpo(input={"tools": []}), "input.messages: is required"),
        (dpo(input={"messages": []}), "input.messages: must not be empty"),
        (
            dpo(input={"messages": [{"role": "robot", "content": "x"}]}),
            "input.messages[0].role: 'robot' is not one of",
        ),
        (
            {k: v for k, v in dpo().items() if k != "non_preferred_output"},
            "non_preferred_output: is required",
        ),
        (dpo(preferred_output=[]), "preferred_output: must be a non-empty array"),
        (
            dpo(preferred_output={"role": "assistant", "content": "x"}),
            "preferred_output: must be a non-empty array of assistant messages, not object",
        ),
        (
            dpo(non_preferred_output=[USER]),
            "non_preferred_output[0].role: must be 'assistant' in a completion, not 'user'",
        ),
        (
            dpo(preferred_output=[{"role": "assistant", "content": 3}]),
            "preferred_output[0].content: must be a string",
        ),
        (
            dpo(preferred_completion=[ASSISTANT]),
            "mixes 'preferred_output'/'non_preferred_output' with",
        ),
        (dpo(messages=[USER, ASSISTANT]), "has both 'messages' (chat format) and"),
        (
            dpo(input={"messages": [USER], "parallel_tool_calls": 1}),
            "input.parallel_tool_calls: must be true or false",
        ),
    ],
)
def test_bad_preference_shapes_are_rejected_with_path(example: Any, expected: str) -> None:
    v = validate(dpo(), example)
    error = only_error(v)
    assert error.line == 2
    assert error.message.startswith(expected), error.message


def test_preference_input_needs_no_assistant_message() -> None:
    assert validate(dpo(input={"messages": [SYSTEM, USER]})).is_valid


# ---------------------------------------------------------------------------
# File-level rules
# ---------------------------------------------------------------------------


def test_file_mixing_formats_is_rejected_at_the_first_line_of_the_other_format() -> None:
    v = validate(chat(), chat(), dpo(), chat())
    error = only_error(v)
    assert error.line == 3
    assert "preference (DPO) example in a file of a chat examples (line 1)" in error.message
    assert v.format == "chat"
    assert v.examples == 3


def test_file_starting_with_preference_rejects_a_later_chat_line() -> None:
    v = validate(dpo(), chat())
    assert only_error(v).line == 2
    assert v.format == "preference"


def test_empty_file_is_an_error() -> None:
    v = validate_fine_tune_file(io.BytesIO(b""))
    assert not v.is_valid
    assert only_error(v) == LineError(0, "the file has no training examples")
    assert v.summary() == "Invalid fine-tuning file: the file has no training examples"


def test_file_of_blank_lines_is_an_error() -> None:
    v = validate_fine_tune_file(io.BytesIO(b"\n  \n\r\n"))
    assert only_error(v).message == "the file has no training examples"


def test_several_bad_lines_are_reported_together_in_line_order() -> None:
    v = validate(
        chat(),
        "not json",
        chat(),
        chat({"role": "robot", "content": "x"}, ASSISTANT),
        chat(),
        chat(SYSTEM, USER),
    )
    assert [e.line for e in v.errors] == [2, 4, 6]
    assert v.examples == 3
    summary = v.summary()
    assert summary.startswith("Invalid fine-tuning file: line 2: not valid JSON")
    assert "; line 4: messages[0].role: 'robot'" in summary
    assert "; line 6: messages: needs at least one assistant message" in summary
    assert "more error" not in summary


def test_errors_are_truncated_at_max_errors_but_all_are_counted() -> None:
    v = validate(*(["{bad"] * 7), chat(), max_errors=3)
    assert [e.line for e in v.errors] == [1, 2, 3]
    assert v.error_count == 7
    assert v.summary().endswith("(and 4 more errors)")


def test_invalid_lines_are_not_counted_as_examples_nor_tokens() -> None:
    v = validate(chat(SYSTEM, USER))
    assert v.examples == 0
    assert v.estimated_tokens == 0


# ---------------------------------------------------------------------------
# Token estimate
# ---------------------------------------------------------------------------


def test_estimated_tokens_is_ceil_of_chars_over_four_plus_four_per_message() -> None:
    # 9 + 10 chars -> ceil(19 / 4) = 5, plus 2 messages * 4 = 13.
    example = chat(
        {"role": "user", "content": "123456789"}, {"role": "assistant", "content": "0" * 10}
    )
    v = validate(example, example)
    assert v.estimated_tokens == 26


def test_estimated_tokens_counts_text_parts_and_tool_call_arguments() -> None:
    example = chat(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcd"},
                {"type": "image_url", "image_url": {"url": "x" * 400}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": "ab", "arguments": "cd"}}],
        },
    )
    # "abcd" + "ab" + "cd" = 8 chars -> 2 tokens; the image URL is not text.
    assert validate(example).estimated_tokens == 2 + 2 * 4


def test_estimated_tokens_for_preference_counts_input_and_both_completions() -> None:
    example = dpo(
        input={"messages": [{"role": "user", "content": "1234"}]},
        preferred_output=[{"role": "assistant", "content": "12345678"}],
        non_preferred_output=[{"role": "assistant", "content": "1234"}],
    )
    assert validate(example).estimated_tokens == 4 + 3 * 4


# ---------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A raw stream generating ``lines`` copies of ``line`` on the fly; records read sizes."""

    def __init__(self, line: bytes, lines: int):
        self.line = line
        self.remaining = lines
        self.buffer = b""
        self.largest_read = 0
        self.bytes_served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        size = len(target)
        self.largest_read = max(self.largest_read, size)
        while len(self.buffer) < size and self.remaining:
            self.buffer += self.line
            self.remaining -= 1
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        target[: len(data)] = data
        self.bytes_served += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("the whole stream was requested")
        return super().read(size)

    def readall(self) -> bytes:
        raise AssertionError("the whole stream was requested")

    def readline(self, size: int | None = -1) -> bytes:
        raise AssertionError("readline is unbounded; the validator must not depend on it")


def test_validate_file_reads_in_bounded_chunks_not_whole() -> None:
    line = (json.dumps(chat(SYSTEM, USER, ASSISTANT)) + "\n").encode()
    lines = (8 * 1024 * 1024) // len(line) + 1  # just over 8 MiB
    stream = CountingReader(line, lines)
    v = validate_fine_tune_file(stream)  # default chunk size, as the upload path uses it
    assert stream.bytes_served > 8 * 1024 * 1024
    assert stream.largest_read <= 1024 * 1024
    assert v.errors == []
    assert v.examples == lines


def test_line_split_across_chunks_is_reassembled() -> None:
    body = jsonl(chat(), chat({"role": "user", "content": "x" * 100}, ASSISTANT), chat())
    v = validate_fine_tune_file(io.BytesIO(body), chunk_size=7)
    assert v.errors == []
    assert v.examples == 3


def test_overlong_line_is_an_error_with_its_line_and_is_not_buffered() -> None:
    long_line = json.dumps(chat({"role": "user", "content": "x" * 5000}, ASSISTANT))
    body = jsonl(chat(), long_line, chat(), long_line)
    v = validate_fine_tune_file(io.BytesIO(body), chunk_size=512, max_line_bytes=1024)
    assert v.errors == [
        LineError(2, "line is longer than 1024 bytes"),
        LineError(4, "line is longer than 1024 bytes"),
    ]
    assert v.examples == 2


def test_text_mode_stream_is_refused() -> None:
    with pytest.raises(TypeError):
        validate_fine_tune_file(io.StringIO(json.dumps(chat())))  # type: ignore[arg-type]


def test_feed_line_numbers_lines_from_one_in_feed_order() -> None:
    v = FineTuneValidator()
    v.feed_line(json.dumps(chat()).encode() + b"\n")
    v.feed_line(b"oops\n")
    v.finish()
    assert v.errors == [LineError(2, v.errors[0].message)]
    assert v.lines == 2
