"""The checks inside one fine-tuning example: messages, content parts, tool
calls and tool declarations (see ``ftproxy.validation.jsonl`` for the formats).

Each check raises ``_Invalid`` with the field path of the first problem it
finds; the checks of anything holding text return its length in
characters, for the token estimate.
The names stay private: only ``ftproxy.validation.jsonl`` uses them.
"""

from __future__ import annotations

import json
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
#: Roles whose message may be just a role and a string content.
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})


class _Invalid(Exception):
    """Raised inside the checks of one line: the first problem found in it."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}" if path else reason)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: Any, limit: int = 40) -> str:
    """A short rendering of a user's value for an error message."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_messages(messages: Any, path: str) -> tuple[int, int, int]:
    """Check a message array; return (text characters, messages, assistant messages)."""
    if not isinstance(messages, list):
        raise _Invalid(path, f"must be a non-empty array of messages, not {_json_type(messages)}")
    if not messages:
        raise _Invalid(path, "must not be empty")
    chars = assistants = 0
    for i, message in enumerate(messages):
        # The common case, decided at once: {"role": ..., "content": "..."}
        # needs no other check (tool and function messages need more keys).
        if (
            type(message) is dict
            and len(message) == 2
            and type(message.get("content")) is str
            and type(message.get("role")) is str  # a list or object is not hashable
            and message["role"] in _PLAIN_ROLES
        ):
            chars += len(message["content"])
        else:
            chars += _check_message(message, f"{path}[{i}]")
        if message["role"] == "assistant":
            assistants += 1
    return chars, len(messages), assistants


def _check_message(message: Any, path: str) -> int:
    """Check one message; return the characters of its text."""
    if not isinstance(message, dict):
        raise _Invalid(path, f"must be a message object, not {_json_type(message)}")
    if "role" not in message:
        raise _Invalid(f"{path}.role", "is required")
    role = message["role"]
    if not isinstance(role, str) or role not in ROLES:
        raise _Invalid(f"{path}.role", f"{_show(role)} is not one of {', '.join(ROLES)}")

    chars = 0
    calls = False
    if message.get("tool_calls") is not None:
        if role != "assistant":
            raise _Invalid(f"{path}.tool_calls", "only assistant messages may have tool_calls")
        chars += _check_tool_calls(message["tool_calls"], f"{path}.tool_calls")
        calls = True
    if message.get("function_call") is not None:
        if role != "assistant":
            raise _Invalid(
                f"{path}.function_call", "only assistant messages may have a function_call"
            )
        chars += _check_call(message["function_call"], f"{path}.function_call")
        calls = True

    content = message.get("content")
    if content is None:
        if role != "assistant" or not calls:
            reason = "must not be null" if "content" in message else "is required"
            raise _Invalid(
                f"{path}.content",
                f"{reason} (only an assistant message with tool_calls or function_call "
                "may leave it out)",
            )
    elif isinstance(content, str):
        chars += len(content)
    elif isinstance(content, list):
        chars += _check_parts(content, f"{path}.content")
    else:
        raise _Invalid(
            f"{path}.content",
            f"must be a string or an array of content parts, not {_json_type(content)}",
        )

    if "weight" in message:
        weight = message["weight"]
        if role != "assistant":
            raise _Invalid(
                f"{path}.weight", f"only assistant messages may have a weight (role is {role!r})"
            )
        if isinstance(weight, bool) or weight not in (0, 1):
            raise _Invalid(f"{path}.weight", f"must be 0 or 1, not {_show(weight)}")
    if "name" in message and message["name"] is not None and not isinstance(message["name"], str):
        raise _Invalid(f"{path}.name", f"must be a string, not {_json_type(message['name'])}")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise _Invalid(f"{path}.tool_call_id", "is required (a string) on a tool message")
    if role == "function" and not isinstance(message.get("name"), str):
        raise _Invalid(f"{path}.name", "is required (a string) on a function message")
    return chars


def _check_parts(parts: list[Any], path: str) -> int:
    if not parts:
        raise _Invalid(path, "must not be an empty array")
    chars = 0
    for i, part in enumerate(parts):
        where = f"{path}[{i}]"
        if not isinstance(part, dict):
            raise _Invalid(where, f"must be a content part object, not {_json_type(part)}")
        kind = part.get("type")
        if not isinstance(kind, str) or not kind:
            raise _Invalid(f"{where}.type", "is required (a string such as 'text')")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise _Invalid(
                    f"{where}.text", f"must be a string, not {_json_type(part.get('text'))}"
                )
            chars += len(part["text"])
        elif kind == "refusal":
            if not isinstance(part.get("refusal"), str):
                raise _Invalid(f"{where}.refusal", "must be a string")
            chars += len(part["refusal"])
        elif kind == "image_url":
            image = part.get("image_url")
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                raise _Invalid(f"{where}.image_url", "must be an object with a string 'url'")
    return chars


def _check_call(call: Any, path: str) -> int:
    """A function call ``{name, arguments}``; return its characters."""
    if not isinstance(call, dict):
        raise _Invalid(path, f"must be an object, not {_json_type(call)}")
    if not isinstance(call.get("name"), str):
        raise _Invalid(f"{path}.name", "is required (a string)")
    arguments = call.get("arguments", "")
    if not isinstance(arguments, str):
        raise _Invalid(f"{path}.arguments", f"must be a string, not {_json_type(arguments)}")
    return len(call["name"]) + len(arguments)


def _check_tool_calls(calls: Any, path: str) -> int:
    if not isinstance(calls, list):
        raise _Invalid(path, f"must be an array, not {_json_type(calls)}")
    chars = 0
    for i, call in enumerate(calls):
        if not isinstance(call, dict):
            raise _Invalid(f"{path}[{i}]", f"must be an object, not {_json_type(call)}")
        chars += _check_call(call.get("function"), f"{path}[{i}].function")
    return chars


def _check_tools(container: dict[str, Any], prefix: str) -> None:
    if "tools" in container:
        tools = container["tools"]
        if not isinstance(tools, list):
            raise _Invalid(f"{prefix}tools", f"must be an array, not {_json_type(tools)}")
        for i, tool in enumerate(tools):
            where = f"{prefix}tools[{i}]"
            if not isinstance(tool, dict):
                raise _Invalid(where, f"must be an object, not {_json_type(tool)}")
            function = tool.get("function")
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise _Invalid(f"{where}.function", "must be an object with a string 'name'")
    if "parallel_tool_calls" in container and not isinstance(
        container["parallel_tool_calls"], bool
    ):
        raise _Invalid(
            f"{prefix}parallel_tool_calls",
            f"must be true or false, not {_show(container['parallel_tool_calls'])}",
        )


def _check_functions(functions: Any, path: str) -> None:
    if not isinstance(functions, list):
        raise _Invalid(path, f"must be an array, not {_json_type(functions)}")
    for i, function in enumerate(functions):
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _Invalid(f"{path}[{i}]", "must be an object with a string 'name'")
