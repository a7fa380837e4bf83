"""OpenAI fine-tuning JSONL → Vertex AI tuning JSONL.

Chat examples become Gemini supervised-tuning examples: one
``{"systemInstruction", "contents", "tools"}`` object per line (Gemini's
``GenerateContentRequest`` shape, roles ``user`` and ``model``). Preference
(DPO) examples become Vertex preference-tuning examples (``preference.py``).
The conversion is line by line and strict: anything the target format cannot
express is rejected with the line number, never dropped, so a job never
trains on something other than what the user uploaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from ...errors import ConversionError, ProviderInputError
from .parts import text_parts
from .preference import convert_preference_example, is_preference_line

#: The two formats a converted file may hold (one per file).
CHAT = "chat"
PREFERENCE = "preference"
#: Where every object of ours lives, under the configured bucket prefix.
OBJECT_ROOT = "ftproxy"
#: The sub-folder of ``<prefix>/ftproxy/<uuid>/`` that holds the converted
#: copy, per format, beside the user's original.
CONVERTED_FOLDERS = {CHAT: "gemini", PREFERENCE: "gemini-preference"}
_CONVERTED_URI = re.compile(
    rf"^gs://.+/{OBJECT_ROOT}/[0-9a-f]{{32}}/({'|'.join(CONVERTED_FOLDERS.values())})/[^/]+$"
)
#: OpenAI line keys with no training effect that Gemini has no place for:
#: ``parallel_tool_calls`` only constrains sampling at inference time.
IGNORED_LINE_KEYS = frozenset({"parallel_tool_calls"})


def converted_format(uri: str) -> str | None:
    """The format of a dataset this gateway converted, read from its
    ``gs://`` URI; None for any other URI."""
    match = _CONVERTED_URI.match(uri or "")
    if not match:
        return None
    return next(kind for kind, folder in CONVERTED_FOLDERS.items() if folder == match[1])


@dataclass
class Converted:
    """What a conversion wrote: how many examples, and in which format."""

    examples: int
    format: str


def convert_jsonl(source: IO[bytes], target: IO[bytes]) -> Converted:
    """Convert the OpenAI JSONL in ``source`` (chat or preference examples,
    one format per file) into Vertex JSONL written to ``target``, one line at
    a time; return the count and the format.

    Raises ``ConversionError`` (400, naming the line) for the first line that
    cannot be converted; ``target`` is then incomplete and must be discarded.
    """

    count = 0
    kind = ""
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ConversionError(number, "not a valid JSON object.") from None
        if not isinstance(line, dict):
            raise ConversionError(number, "each line must be a JSON object.")
        line_kind = PREFERENCE if is_preference_line(line) else CHAT
        if kind and line_kind != kind:
            raise ConversionError(
                number,
                f"a {line_kind} example in a file of {kind} examples; a Vertex AI tuning "
                "dataset holds one format.",
            )
        kind = line_kind
        if kind == PREFERENCE:
            example = convert_preference_example(line, number)
        else:
            example = convert_example(line, number)
        target.write(json.dumps(example, ensure_ascii=False, separators=(",", ":")).encode())
        target.write(b"\n")
        count += 1
    if not count:
        raise ProviderInputError("The file has no training examples.", param="file")
    return Converted(examples=count, format=kind)


def convert_example(line: Any, number: int) -> dict[str, Any]:
    """One OpenAI chat example as one Gemini tuning example."""
    if not isinstance(line, dict):
        raise ConversionError(number, "each line must be a JSON object.")
    unknown = sorted(set(line) - {"messages", "tools", "functions"} - IGNORED_LINE_KEYS)
    if unknown:
        raise ConversionError(number, f"key {unknown[0]!r} has no Gemini tuning equivalent.")
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConversionError(number, "'messages' must be a non-empty list.")

    example: dict[str, Any] = {}
    system_parts: list[dict[str, Any]] = []
    index = 0
    # Gemini has one system instruction ahead of the conversation, so only
    # the leading system/developer messages can become it.
    while index < len(messages) and _role(messages[index]) in ("system", "developer"):
        system_parts.extend(_text_parts(messages[index].get("content"), number, index))
        index += 1
    if system_parts:
        example["systemInstruction"] = {"role": "system", "parts": system_parts}

    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for position in range(index, len(messages)):
        message = messages[position]
        role, parts = _convert_message(message, number, position, call_names)
        # Gemini expects turns to alternate; consecutive messages of one role
        # (e.g. the answers to parallel tool calls) are one turn of many parts.
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents:
        raise ConversionError(number, "the example has no user or assistant messages.")
    example["contents"] = contents

    declarations = _declarations(line, number)
    if declarations:
        example["tools"] = [{"functionDeclarations": declarations}]
    return example


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _convert_message(
    message: Any, number: int, position: int, call_names: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(message, dict):
        raise ConversionError(number, f"messages[{position}] must be an object.")
    role = message.get("role")
    where = f"messages[{position}]"
    if role in ("system", "developer"):
        raise ConversionError(
            number,
            f"{where}: a {role} message after the conversation started has no Gemini "
            "equivalent (only leading system/developer messages become the system instruction).",
        )
    if role == "user":
        return "user", _text_parts(message.get("content"), number, position)
    if role == "assistant":
        return "model", _assistant_parts(message, number, position, call_names)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if call_id not in call_names:
            raise ConversionError(
                number, f"{where}: tool_call_id {call_id!r} matches no earlier assistant tool call."
            )
        return "user", [_function_response(call_names[call_id], message, number, position)]
    if role == "function":  # OpenAI's legacy function-calling format
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise ConversionError(number, f"{where}: a function message needs a 'name'.")
        return "user", [_function_response(name, message, number, position)]
    raise ConversionError(number, f"{where}: role {role!r} is not supported.")


def _assistant_parts(
    message: dict[str, Any], number: int, position: int, call_names: dict[str, str]
) -> list[dict[str, Any]]:
    where = f"messages[{position}]"
    weight = message.get("weight", 1)
    if weight == 0:
        # Gemini tuning examples have no per-turn loss weight: every model
        # turn is trained on. Dropping the turn would change the context of
        # later turns, so the only honest answer is to refuse.
        raise ConversionError(
            number,
            f"{where}: 'weight': 0 is not supported by Vertex AI tuning (every model turn "
            "is trained on); remove the message's weight or the example.",
        )
    if weight != 1:
        raise ConversionError(number, f"{where}: 'weight' must be 0 or 1.")
    parts: list[dict[str, Any]] = []
    if message.get("content") not in (None, "", []):
        parts.extend(_text_parts(message.get("content"), number, position))
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ConversionError(number, f"{where}: 'tool_calls' must be a list.")
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type", "function") != "function":
            raise ConversionError(number, f"{where}: only function tool calls are supported.")
        name = function.get("name")
        call_id = call.get("id")
        if not isinstance(name, str) or not name:
            raise ConversionError(number, f"{where}: a tool call needs a function name.")
        if isinstance(call_id, str):
            call_names[call_id] = name
        parts.append({"functionCall": {"name": name, "args": _arguments(function, number, where)}})
    if isinstance(message.get("function_call"), dict):  # legacy single call
        function = message["function_call"]
        parts.append(
            {
                "functionCall": {
                    "name": function.get("name"),
                    "args": _arguments(function, number, where),
                }
            }
        )
    if not parts:
        raise ConversionError(number, f"{where}: the assistant message is empty.")
    return parts


def _arguments(function: dict[str, Any], number: int, where: str) -> dict[str, Any]:
    raw = function.get("arguments")
    if raw in (None, ""):
        return {}
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise ConversionError(number, f"{where}: tool call arguments are not valid JSON.") from None
    if not isinstance(args, dict):
        raise ConversionError(number, f"{where}: tool call arguments must be a JSON object.")
    return args


def _function_response(
    name: str, message: dict[str, Any], number: int, position: int
) -> dict[str, Any]:
    text = "".join(p["text"] for p in _text_parts(message.get("content"), number, position))
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    # Gemini's response is a JSON object; Google documents the key "output"
    # for a function's plain result.
    response = value if isinstance(value, dict) else {"output": value}
    return {"functionResponse": {"name": name, "response": response}}


def _text_parts(content: Any, number: int, position: int) -> list[dict[str, Any]]:
    return text_parts(content, number, f"messages[{position}]")


def _declarations(line: dict[str, Any], number: int) -> list[dict[str, Any]]:
    declarations = []
    specs: Iterable[Any] = line.get("tools") or []
    for tool in specs:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise ConversionError(number, "only function tools are supported in 'tools'.")
        declarations.append(_declaration(tool.get("function"), number))
    for function in line.get("functions") or []:
        declarations.append(_declaration(function, number))
    return declarations


def _declaration(function: Any, number: int) -> dict[str, Any]:
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ConversionError(number, "each tool needs a function with a 'name'.")
    # OpenAI's "strict" only constrains decoding at inference time; it has
    # no effect on what a tuning example teaches, so it is not carried over.
    declaration = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    if function.get("parameters"):
        # Passed on as given: Gemini's Schema is an OpenAPI subset of JSON
        # Schema; Vertex validates it when the job reads the dataset.
        declaration["parameters"] = function["parameters"]
    return declaration
