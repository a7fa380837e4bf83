"""The fast paths (orjson, chunk-wise line splitting, plain messages) decide
exactly as the general ones: what ``json`` accepts and orjson refuses is
still accepted, and lines split across chunks read as before."""

from __future__ import annotations

import io
import json

import pytest

from ftproxy.validation import iter_lines, validate_fine_tune_file


def line(content: object = "hi", **extra: object) -> bytes:
    example = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": content, **extra},
        ]
    }
    return json.dumps(example).encode() + b"\n"


@pytest.mark.parametrize(
    "raw",
    [
        # integers beyond 64 bits: orjson refuses them, json (and OpenAI) accept
        b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
        b'"content": "a"}], "seed_note": 123456789012345678901234567890}\n',
        # a lone surrogate escape: orjson refuses it, json accepts it
        b'{"messages": [{"role": "user", "content": "\\ud800"}, '
        b'{"role": "assistant", "content": "a"}]}\n',
    ],
)
def test_what_json_accepts_and_orjson_refuses_is_still_valid(raw: bytes) -> None:
    result = validate_fine_tune_file(io.BytesIO(raw))
    assert result.is_valid, result.summary()


def test_a_plain_message_with_an_unknown_role_is_still_refused() -> None:
    raw = (
        b'{"messages": [{"role": "robot", "content": "q"}, '
        b'{"role": "assistant", "content": "a"}]}\n'
    )
    result = validate_fine_tune_file(io.BytesIO(raw))
    assert not result.is_valid
    assert "messages[0].role" in result.summary()


def test_a_two_key_tool_message_still_needs_its_tool_call_id() -> None:
    raw = (
        b'{"messages": [{"role": "tool", "content": "q"}, {"role": "assistant", "content": "a"}]}\n'
    )
    result = validate_fine_tune_file(io.BytesIO(raw))
    assert "tool_call_id" in result.summary()


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096])
def test_lines_split_across_chunks_read_the_same(chunk_size: int) -> None:
    data = line() + b"\r\n" + line("x" * 300) + b"   \n" + line()[:-1]  # no final newline
    lines = list(iter_lines(io.BytesIO(data), chunk_size=chunk_size))
    assert b"".join(lines) == data
    assert len(lines) == 5
    result = validate_fine_tune_file(io.BytesIO(data), chunk_size=chunk_size)
    assert (result.lines, result.examples, result.error_count) == (5, 3, 0)


def test_an_overlong_line_between_chunks_is_one_error_and_the_next_line_reads() -> None:
    data = line() + line("y" * 500) + line()
    result = validate_fine_tune_file(io.BytesIO(data), chunk_size=16, max_line_bytes=200)
    assert [e.line for e in result.errors] == [2]
    assert result.examples == 2


@pytest.mark.parametrize("role", [["user"], {"name": "user"}, None, 1])
def test_a_plain_message_whose_role_is_not_a_string_is_an_error_not_a_crash(role) -> None:
    bad = {"messages": [{"role": role, "content": "q"}, {"role": "assistant", "content": "a"}]}
    result = validate_fine_tune_file(io.BytesIO(json.dumps(bad).encode() + b"\n"))
    assert not result.is_valid
    assert result.errors[0].line == 1
    assert "messages[0].role" in result.summary()
