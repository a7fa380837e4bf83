"""The fast paths (orjson, chunk-wise line splitting, plain messages) decide
exactly as the general ones: what ``json`` accepts and orjson refuses is
still accepted, and lines split across chunks read as before."""

from __future__ import annotations

import io
import json
import random

import pytest

from ftproxy.validation import FineTuneValidator, iter_lines, validate_fine_tune_file


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


#: Lines of every kind: plain chat lines the inline path decides, and lines
#: it must hand to the general checks (tools, weights, tool messages, bad
#: roles, no assistant, preference lines, non-objects, bad JSON, blanks).
MIXED_LINES = [
    line(),
    line("é" * 9),
    line(""),
    line(weight=0),
    json.dumps({"messages": [{"role": "user", "content": "q"}]}).encode() + b"\n",
    json.dumps({"messages": []}).encode() + b"\n",
    json.dumps({"messages": [{"role": "assistant", "content": "a"}], "tools": []}).encode() + b"\n",
    json.dumps({"messages": [{"role": "tool", "content": "q"}, {"role": "assistant"}]}).encode()
    + b"\n",
    json.dumps({"messages": [{"role": "robot", "content": "q"}]}).encode() + b"\n",
    json.dumps({"messages": [{"role": "user", "content": ["x"]}]}).encode() + b"\n",
    json.dumps({"messages": [{"role": None, "content": "x"}]}).encode() + b"\n",
    json.dumps({"messages": "no"}).encode() + b"\n",
    json.dumps(
        {
            "input": {"messages": [{"role": "user", "content": "q"}]},
            "preferred_output": [{"role": "assistant", "content": "a"}],
            "non_preferred_output": [{"role": "assistant", "content": "b"}],
        }
    ).encode()
    + b"\n",
    b"[1, 2]\n",
    b"7\n",
    b'{"messages": [\n',
    b"\xff\xfe\n",
    b"   \n",
    b"\n",
    b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
    b'"content": "a"}], "n": 123456789012345678901234567890}\n',
]


def facts(v) -> tuple:
    return (
        v.errors,
        v.error_count,
        v.examples,
        v.estimated_tokens,
        v.max_example_tokens,
        v.format,
        v.format_line,
        v.lines,
        v.is_valid,
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_inline_chat_path_decides_as_the_line_by_line_checks(seed: int) -> None:
    rng = random.Random(seed)
    lines = [rng.choice(MIXED_LINES) for _ in range(rng.randint(1, 60))]
    if seed % 3 == 0:
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    data = b"".join(lines)
    one_by_one = FineTuneValidator(max_errors=5)
    for raw in iter_lines(io.BytesIO(data), max_line_bytes=200):
        if raw is None:
            one_by_one.skip_line("line is longer than 200 bytes")
        else:
            one_by_one.feed_line(raw.removesuffix(b"\n"))  # as the file reader splits them
    one_by_one.finish()
    for chunk_size in (7, 64, 1024 * 1024):
        fast = validate_fine_tune_file(
            io.BytesIO(data), max_errors=5, chunk_size=chunk_size, max_line_bytes=200
        )
        assert facts(fast) == facts(one_by_one), chunk_size


def test_an_overlong_line_is_refused_whatever_the_chunk_size() -> None:
    data = line() + line("z" * 300) + line() + line("w" * 300)
    for chunk_size in (16, 100, 150, 4096, 1024 * 1024):
        result = validate_fine_tune_file(
            io.BytesIO(data), chunk_size=chunk_size, max_line_bytes=200
        )
        assert [e.line for e in result.errors] == [2, 4], chunk_size
        assert result.examples == 2
