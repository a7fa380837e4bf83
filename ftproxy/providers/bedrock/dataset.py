"""OpenAI fine-tuning JSONL → the training records of a Bedrock base model.

Chat examples (``{"messages": [...]}``) become ``bedrock-conversation-2024``
records (``schemaVersion``, ``system: [{"text"}]``, ``messages`` of
``{"role", "content": [{"text"}]}``) or, for families that train on
``{"prompt", "completion"}``, one such record. Records already in the
target's shape pass through. The conversion is line by line and strict:
what the target cannot express (a tool call, an image, a second turn for a
single-turn family, a system prompt in prompt/completion) is a 400 naming
the line, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from ...errors import ConversionError, ProviderInputError
from .catalog import CONVERSATION, PROMPT_COMPLETION, Family

#: The message keys Bedrock has a place for (``name``, tool calls and the
#: like have none: refused, never dropped).
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content"})


def _text(content: Any, line: int, where: str) -> str:
    """A message's content as one text: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text") or ""))
            elif isinstance(part, dict) and isinstance(part.get("text"), str) and len(part) == 1:
                texts.append(part["text"])  # Bedrock's own {"text": …}
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ConversionError(
                    line, f"{where} has a {kind!r} part; Bedrock text fine-tuning takes text only."
                )
        return "".join(texts)
    raise ConversionError(line, f"{where} has no text content.")


def _turns(record: dict[str, Any], line: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(system texts, [(role, text)…]) of an OpenAI chat or Bedrock record."""
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConversionError(line, "'messages' must be a non-empty list.")
    system: list[str] = []
    for item in record.get("system") or []:  # a Bedrock record's own system list
        system.append(_text([item], line, "system"))
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ConversionError(line, f"{where} must be an object.")
        role = message.get("role")
        extra = set(message) - _PLAIN_MESSAGE_KEYS - {"weight"}
        if extra or role in ("tool", "function"):
            what = ", ".join(sorted(extra)) or f"role {role!r}"
            raise ConversionError(
                line, f"{where} has {what}; Bedrock fine-tuning takes plain text turns only."
            )
        if message.get("weight", 1) != 1:
            raise ConversionError(
                line, f"{where} has weight {message['weight']!r}; Bedrock has no message weights."
            )
        text = _text(message.get("content"), line, where)
        if role in ("system", "developer"):
            if turns:
                raise ConversionError(
                    line, f"{where} is a {role} message after the conversation started."
                )
            system.append(text)
        elif role in ("user", "assistant"):
            if turns and turns[-1][0] == role:
                raise ConversionError(line, f"{where}: two {role} messages in a row.")
            if not turns and role != "user":
                raise ConversionError(line, f"{where}: the conversation must start with a user.")
            turns.append((role, text))
        else:
            raise ConversionError(line, f"{where} has the unknown role {role!r}.")
    if not turns or turns[-1][0] != "assistant":
        raise ConversionError(line, "the last message must be the assistant's answer.")
    return system, turns


def convert_record(record: Any, family: Family, model: str, line: int) -> dict[str, Any]:
    """One training record for ``family`` from one line of the user's file."""
    if not isinstance(record, dict):
        raise ConversionError(line, "each line must be a JSON object.")
    if "prompt" in record and "completion" in record and "messages" not in record:
        prompt, completion = record["prompt"], record["completion"]
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise ConversionError(line, "'prompt' and 'completion' must be strings.")
        system, turns = [], [("user", prompt), ("assistant", completion)]
    else:
        system, turns = _turns(record, line)
    if not family.multi_turn and len(turns) > 2:
        raise ConversionError(
            line,
            f"a conversation of {len(turns) // 2} turns cannot be expressed for {model}: "
            f"{family.label} trains on single-turn examples (one user message, one answer).",
        )
    if family.data_format == PROMPT_COMPLETION:
        if system:
            raise ConversionError(
                line,
                f"a system prompt cannot be expressed for {model}, which trains on "
                "prompt/completion records (put it in the user message).",
            )
        return {"prompt": turns[0][1], "completion": turns[1][1]}
    converted: dict[str, Any] = {"schemaVersion": CONVERSATION}
    if system:
        converted["system"] = [{"text": text} for text in system]
    converted["messages"] = [{"role": role, "content": [{"text": text}]} for role, text in turns]
    return converted


def convert_lines(lines: Iterable[bytes], target: IO[bytes], family: Family, model: str) -> int:
    """Convert every line of ``lines`` into ``target``; return the record count.
    Blank lines are skipped (their numbers still count)."""
    count = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ConversionError(number, f"not valid JSON ({exc}).") from None
        converted = convert_record(record, family, model, number)
        target.write(json.dumps(converted, ensure_ascii=False).encode() + b"\n")
        count += 1
    if not count:
        raise ProviderInputError(
            "The training file holds no examples.", param="training_file", code="invalid_file"
        )
    return count
