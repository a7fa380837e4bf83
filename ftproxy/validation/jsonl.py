"""Line-by-line validation of ``purpose=fine-tune`` JSONL uploads.

An upload can be hundreds of megabytes, so nothing here holds the whole file:
``FineTuneValidator`` is fed one physical line at a time, and
``validate_fine_tune_file`` reads a binary file object in fixed-size chunks.

Two of OpenAI's training formats are accepted, one per file:

- **chat** (supervised): ``{"messages": [...], "tools"?, "parallel_tool_calls"?,
  "functions"?}``, with at least one assistant message; assistant messages may
  carry ``weight`` 0 or 1 (OpenAI's ``FineTuneChatRequestInput``).
- **preference** (DPO): ``{"input": {"messages": [...], "tools"?,
  "parallel_tool_calls"?}, "preferred_output": [assistant message, ...],
  "non_preferred_output": [assistant message, ...]}``. OpenAI's DPO guide and
  Azure's documentation spell the completions ``preferred_output`` /
  ``non_preferred_output``; the OpenAPI schema ``FineTunePreferenceRequestInput``
  spelled them ``preferred_completion`` / ``non_preferred_completion``. Both
  spellings are accepted, but not mixed within one line.

Every error names the line (counted from 1), the field path and the reason,
e.g. ``messages[2].role: 'robot' is not one of system, developer, user,
assistant, tool, function``. Each line reports its first problem only.

This module reads lines and decides the format of each; the checks of the
messages, content parts and tools inside an example are in
``rules``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

import orjson

from .lines import CHUNK_SIZE, MAX_LINE_BYTES, line_batches
from .rules import (
    _PLAIN_ROLES,
    _check_functions,
    _check_message,
    _check_messages,
    _check_tools,
    _Invalid,
    _json_type,
    _show,
)

CHAT = "chat"
PREFERENCE = "preference"

#: Rough token estimate: characters per token, and tokens of overhead per message.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4

#: Preference completion keys: (preferred, non-preferred), in both spellings.
_COMPLETION_KEYS = (
    ("preferred_output", "non_preferred_output"),
    ("preferred_completion", "non_preferred_completion"),
)
_PREFERENCE_KEYS = frozenset({"input", *(k for pair in _COMPLETION_KEYS for k in pair)})

_BOM = b"\xef\xbb\xbf"
_UNREADABLE = object()


@dataclass(frozen=True)
class LineError:
    """One problem in the file. ``line`` counts from 1; 0 means the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class FineTuneValidator:
    """Validate a fine-tuning JSONL file fed one physical line at a time.

    Contract:

    - ``feed_line(raw)`` takes one line of bytes (a trailing ``b"\\n"`` or
      ``b"\\r\\n"`` is allowed). Lines are numbered from 1 in the order fed.
      Blank or whitespace-only lines are skipped (but still counted).
    - ``finish()`` is called once, after the last line; it adds the
      end-of-file checks (a file with no examples is an error).
    - ``errors`` keeps at most ``max_errors`` errors, in line order;
      ``error_count`` counts all of them. ``is_valid`` is true when there
      are none and at least one example.
    - ``examples`` counts the valid example lines; ``format`` is ``"chat"``
      or ``"preference"`` as soon as a line shows which (the first such line
      decides for the whole file), else None.
    - ``estimated_tokens`` is a rough estimate of the tokens trained in one
      epoch, with no tokenizer: for each valid example,
      ``ceil(characters of text / 4) + 4 * number of messages``. "Text" is
      every string ``content``, the ``text`` of text content parts, and the
      names and arguments of ``tool_calls`` / ``function_call``; images,
      audio and files are not counted. For preference examples the input
      messages and both completions are counted. It is meant for cost
      guesses, not for billing. ``max_example_tokens`` is the same estimate
      for the longest example.
    """

    def __init__(self, max_errors: int = 20):
        if max_errors < 1:
            raise ValueError("max_errors must be at least 1")
        self.max_errors = max_errors
        self.errors: list[LineError] = []
        self.error_count = 0
        self.examples = 0
        self.estimated_tokens = 0
        self.max_example_tokens = 0
        self.format: str | None = None
        self.format_line: int | None = None
        self.lines = 0
        self.finished = False

    # ---- feeding ------------------------------------------------------
    def feed_line(self, raw: bytes) -> None:
        """Check one physical line and record its first problem, if any."""
        self.lines += 1
        line = self.lines
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw or raw.isspace():
            return
        try:
            obj = orjson.loads(raw)  # the fast path: most lines are plain, valid JSON
        except orjson.JSONDecodeError:
            obj = self._parse_slowly(raw, line)  # the exact reason, or what json accepts
            if obj is _UNREADABLE:
                return
        self._check(obj, line)

    def _parse_slowly(self, raw: bytes, line: int) -> Any:
        """What ``json`` makes of a line orjson refused: the error, recorded
        (returns ``_UNREADABLE``), or the value (integers beyond 64 bits,
        lone surrogates, deep nesting)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._error(
                line, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
            )
            return _UNREADABLE
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            self._error(line, f"not valid JSON: {exc.msg} (column {exc.colno})")
        except ValueError as exc:  # NaN / Infinity
            self._error(line, f"not valid JSON: {exc}")
        except RecursionError:
            self._error(line, "not valid JSON: nested too deeply")
        return _UNREADABLE

    def _check(self, obj: Any, line: int) -> None:
        if not isinstance(obj, dict):
            self._error(line, f"each line must be a JSON object, not {_json_type(obj)}")
            return
        try:
            kind = self._kind(obj)
            if self.format is None:
                self.format, self.format_line = kind, line
            elif kind != self.format:
                raise _Invalid(
                    "",
                    f"{_describe(kind)} example in a file of {_describe(self.format)} "
                    f"examples (line {self.format_line}); a file must use one format",
                )
            tokens = self._check_chat(obj) if kind == CHAT else self._check_preference(obj)
        except _Invalid as exc:
            self._error(line, str(exc))
            return
        self.examples += 1
        self.estimated_tokens += tokens
        self.max_example_tokens = max(self.max_example_tokens, tokens)

    def skip_line(self, reason: str) -> None:
        """Count one line that could not be read (e.g. too long) as an error."""
        self.lines += 1
        self._error(self.lines, reason)

    def feed_lines(self, batches: Iterable[Iterable[bytes | None]], too_long: str) -> None:
        """Feed many physical lines, in batches (``None`` stands for a line
        too long to read, an error ``too_long``): the same as ``feed_line``
        (and ``skip_line``) line by line, faster. The common chat line, whose
        only key is ``messages`` and whose every message is a plain
        ``{"role", "content"}`` (a string content, a role other than tool and
        function, one assistant at least), is decided here at once; every
        other line takes ``feed_line``'s way."""
        loads, malformed, plain = orjson.loads, orjson.JSONDecodeError, _PLAIN_ROLES
        line = self.lines
        examples, total, longest = self.examples, self.estimated_tokens, self.max_example_tokens
        chat = self.format == CHAT
        for batch in batches:
            for raw in batch:
                line += 1
                obj = _UNREADABLE
                if chat and raw is not None:
                    try:
                        obj = loads(raw)
                    except malformed:
                        pass  # feed_line words it (or json accepts it)
                    else:
                        messages = obj.get("messages") if type(obj) is dict else None
                        if type(messages) is list and len(obj) == 1 and messages:
                            chars = assistants = 0
                            for message in messages:
                                if type(message) is dict and len(message) == 2:
                                    content = message.get("content")
                                    role = message.get("role")
                                    if type(content) is str and type(role) is str and role in plain:
                                        chars += len(content)
                                        if role == "assistant":
                                            assistants += 1
                                        continue
                                break
                            else:
                                if assistants:
                                    tokens = _estimate(chars, len(messages))
                                    examples += 1
                                    total += tokens
                                    if tokens > longest:
                                        longest = tokens
                                    continue
                # Anything else: the general checks, with the counts in place.
                self.lines = line - 1
                self.examples, self.estimated_tokens = examples, total
                self.max_example_tokens = longest
                if raw is None:
                    self.skip_line(too_long)
                elif obj is _UNREADABLE:
                    self.feed_line(raw)
                else:
                    self.lines = line
                    self._check(obj, line)
                examples, total = self.examples, self.estimated_tokens
                longest = self.max_example_tokens
                chat = self.format == CHAT
        self.lines = line
        self.examples, self.estimated_tokens = examples, total
        self.max_example_tokens = longest

    def finish(self) -> None:
        """End-of-file checks. Idempotent."""
        if self.finished:
            return
        self.finished = True
        if self.examples == 0 and self.error_count == 0:
            self._error(0, "the file has no training examples")

    # ---- results ------------------------------------------------------
    @property
    def is_valid(self) -> bool:
        return self.error_count == 0 and self.examples > 0

    def summary(self) -> str:
        """One human-readable sentence: the errors with their lines, or the counts.

        Invalid: ``"Invalid fine-tuning file: line 3: ...; line 7: ... (and 4
        more errors)"``. Valid: the number of examples, format and estimate.
        """
        if not self.error_count:
            return (
                f"Valid fine-tuning file: {self.examples} {self.format or ''} example"
                f"{'' if self.examples == 1 else 's'}, about {self.estimated_tokens} tokens"
            ).replace("  ", " ")
        text = "Invalid fine-tuning file: " + "; ".join(str(e) for e in self.errors)
        more = self.error_count - len(self.errors)
        if more:
            text += f" (and {more} more error{'' if more == 1 else 's'})"
        return text

    # ---- internals ----------------------------------------------------
    def _error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(LineError(line, message))

    @staticmethod
    def _kind(obj: dict[str, Any]) -> str:
        chat = "messages" in obj
        if chat and _PREFERENCE_KEYS.isdisjoint(obj):
            return CHAT
        preference = sorted(k for k in obj if k in _PREFERENCE_KEYS)
        if chat and preference:
            raise _Invalid(
                "",
                "has both 'messages' (chat format) and "
                f"{', '.join(repr(k) for k in preference)} (preference format)",
            )
        if chat:
            return CHAT
        if preference:
            return PREFERENCE
        raise _Invalid(
            "messages",
            "is required (chat format; for preference data use 'input', "
            "'preferred_output' and 'non_preferred_output')",
        )

    def _check_chat(self, obj: dict[str, Any]) -> int:
        chars, count, assistants = _check_messages(obj["messages"], "messages")
        if not assistants:
            raise _Invalid("messages", "needs at least one assistant message")
        _check_tools(obj, "")
        if "functions" in obj:
            _check_functions(obj["functions"], "functions")
        return _estimate(chars, count)

    def _check_preference(self, obj: dict[str, Any]) -> int:
        if "input" not in obj:
            raise _Invalid("input", "is required for a preference example")
        inp = obj["input"]
        if not isinstance(inp, dict):
            raise _Invalid("input", f"must be an object, not {_json_type(inp)}")
        if "messages" not in inp:
            raise _Invalid("input.messages", "is required")
        chars, count, _ = _check_messages(inp["messages"], "input.messages")
        _check_tools(inp, "input.")
        spellings = [pair for pair in _COMPLETION_KEYS if any(k in obj for k in pair)]
        if len(spellings) > 1:
            raise _Invalid(
                "",
                "mixes 'preferred_output'/'non_preferred_output' with "
                "'preferred_completion'/'non_preferred_completion'; use one pair",
            )
        pair = spellings[0] if spellings else _COMPLETION_KEYS[0]
        for key in pair:
            if key not in obj:
                raise _Invalid(key, "is required for a preference example")
            value = obj[key]
            if not isinstance(value, list) or not value:
                raise _Invalid(
                    key,
                    "must be a non-empty array of assistant messages, "
                    f"not {_describe_value(value)}",
                )
            for i, message in enumerate(value):
                path = f"{key}[{i}]"
                if isinstance(message, dict) and message.get("role") != "assistant":
                    raise _Invalid(
                        f"{path}.role",
                        f"must be 'assistant' in a completion, not {_show(message.get('role'))}",
                    )
                chars += _check_message(message, path)
                count += 1
        return _estimate(chars, count)


def _describe(kind: str) -> str:
    return "a chat" if kind == CHAT else "a preference (DPO)"


def _describe_value(value: Any) -> str:
    if isinstance(value, list):
        return "an empty array"
    return _json_type(value)


def _estimate(chars: int, messages: int) -> int:
    return -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * messages


def validate_fine_tune_file(
    stream: IO[bytes],
    *,
    max_errors: int = 20,
    chunk_size: int = CHUNK_SIZE,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> FineTuneValidator:
    """Validate a binary file object line by line and return the finished validator.

    The stream is read from its current position in ``chunk_size`` reads,
    never whole; a line longer than ``max_line_bytes`` is an error at its
    line. The caller rewinds the stream afterwards if it sends it on.
    """
    validator = FineTuneValidator(max_errors=max_errors)
    validator.feed_lines(
        line_batches(stream, chunk_size, max_line_bytes, keepends=False),
        f"line is longer than {max_line_bytes} bytes",
    )
    validator.finish()
    return validator
