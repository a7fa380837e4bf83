"""OpenAI preference (DPO) examples → Vertex AI preference-tuning examples.

OpenAI's line is ``{"input": {"messages": [...]}, "preferred_output": [...],
"non_preferred_output": [...]}`` (older spelling: ``preferred_completion`` /
``non_preferred_completion``). Vertex reads, per line, the prompt as
``contents`` (Gemini turns, ending with a user turn, text only) with an
optional ``system_instruction``, and a pair of ``completions``, each one
model turn with a ``score``: 1 for the preferred, 0 for the other (Google's
"Prepare preference tuning data for Gemini models"; the API's
``GeminiPreferenceExample`` is ``contents`` + ``completions[{completion,
score}]``). The spelling ``system_instruction`` is the one that page shows.

As for chat examples, anything Vertex's format cannot express is refused
with the line number, never dropped.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConversionError
from .parts import text_parts

#: (preferred, non-preferred) completion keys, in OpenAI's two spellings.
COMPLETION_KEYS = (
    ("preferred_output", "non_preferred_output"),
    ("preferred_completion", "non_preferred_completion"),
)
PREFERENCE_KEYS = frozenset({"input", *(key for pair in COMPLETION_KEYS for key in pair)})
#: ``parallel_tool_calls`` only constrains sampling at inference time.
IGNORED_INPUT_KEYS = frozenset({"parallel_tool_calls"})


def is_preference_line(line: dict[str, Any]) -> bool:
    """Whether a parsed line is in OpenAI's preference (DPO) format."""
    return bool(PREFERENCE_KEYS & line.keys())


def convert_preference_example(line: dict[str, Any], number: int) -> dict[str, Any]:
    """One OpenAI preference example as one Vertex preference-tuning example."""
    spellings = [pair for pair in COMPLETION_KEYS if any(key in line for key in pair)]
    if len(spellings) != 1:
        raise ConversionError(
            number,
            "a preference example needs 'preferred_output' and 'non_preferred_output' "
            "(one spelling, not both).",
        )
    preferred_key, other_key = spellings[0]
    unknown = sorted(set(line) - {"input", preferred_key, other_key})
    if unknown:
        raise ConversionError(
            number, f"key {unknown[0]!r} has no Vertex AI preference-tuning equivalent."
        )
    inp = line.get("input")
    if not isinstance(inp, dict):
        raise ConversionError(number, "'input' must be an object with 'messages'.")
    if inp.get("tools") or inp.get("functions"):
        raise ConversionError(
            number,
            "input.tools: Vertex AI preference tuning takes text conversations only "
            "(no tool declarations).",
        )
    unknown = sorted(set(inp) - {"messages", "tools", "functions"} - IGNORED_INPUT_KEYS)
    if unknown:
        raise ConversionError(
            number, f"key 'input.{unknown[0]}' has no Vertex AI preference-tuning equivalent."
        )
    example = _prompt(inp.get("messages"), number)
    example["completions"] = [
        {"score": 1, "completion": _completion(line.get(preferred_key), preferred_key, number)},
        {"score": 0, "completion": _completion(line.get(other_key), other_key, number)},
    ]
    return example


def _prompt(messages: Any, number: int) -> dict[str, Any]:
    if not isinstance(messages, list) or not messages:
        raise ConversionError(number, "'input.messages' must be a non-empty list.")
    example: dict[str, Any] = {}
    system_parts: list[dict[str, Any]] = []
    index = 0
    while index < len(messages) and _role(messages[index]) in ("system", "developer"):
        system_parts.extend(
            text_parts(messages[index].get("content"), number, f"input.messages[{index}]")
        )
        index += 1
    if system_parts:
        example["system_instruction"] = {"parts": system_parts}
    contents: list[dict[str, Any]] = []
    for position in range(index, len(messages)):
        message = messages[position]
        where = f"input.messages[{position}]"
        role = _role(message)
        if role == "user":
            turn = "user"
        elif role == "assistant":
            turn = "model"
            _refuse_tool_calls(message, where, number)
        elif role in ("system", "developer"):
            raise ConversionError(
                number,
                f"{where}: a {role} message after the conversation started has no Gemini "
                "equivalent (only leading system/developer messages become the system "
                "instruction).",
            )
        else:
            raise ConversionError(
                number,
                f"{where}: role {role!r} is not supported in Vertex AI preference tuning "
                "(text conversations of user and assistant turns only).",
            )
        parts = text_parts(message.get("content"), number, where)
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    if not contents or contents[-1]["role"] != "user":
        raise ConversionError(
            number,
            "input.messages: the prompt must end with a user message (Vertex AI trains on "
            "the completions that answer it).",
        )
    example["contents"] = contents
    return example


def _completion(messages: Any, key: str, number: int) -> dict[str, Any]:
    """A completion (a list of assistant messages) as one model turn."""
    if not isinstance(messages, list) or not messages:
        raise ConversionError(number, f"'{key}' must be a non-empty list of assistant messages.")
    parts: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        where = f"{key}[{position}]"
        if _role(message) != "assistant":
            raise ConversionError(number, f"{where}: a completion holds assistant messages only.")
        _refuse_tool_calls(message, where, number)
        parts.extend(text_parts(message.get("content"), number, where))
    return {"role": "model", "parts": parts}


def _refuse_tool_calls(message: dict[str, Any], where: str, number: int) -> None:
    if message.get("tool_calls") or message.get("function_call"):
        raise ConversionError(
            number, f"{where}: tool calls are not supported in Vertex AI preference tuning."
        )


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None
