"""Text content as Gemini parts, shared by the chat (``dataset``) and the
preference (``preference``) conversions."""

from __future__ import annotations

from typing import Any

from ...errors import ConversionError


def text_parts(content: Any, number: int, where: str) -> list[dict[str, Any]]:
    """A message's text content as Gemini parts; ``where`` names the message."""
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, list) and content:
        parts = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "text":
                if not isinstance(item.get("text"), str):
                    raise ConversionError(number, f"{where}: a text part needs a 'text' string.")
                parts.append({"text": item["text"]})
            else:
                kind = item.get("type") if isinstance(item, dict) else type(item).__name__
                # Gemini tuning data takes images only as Cloud Storage
                # fileData, which an OpenAI image_url (a URL or data: URI)
                # cannot be turned into faithfully.
                raise ConversionError(
                    number, f"{where}: content part type {kind!r} is not supported (text only)."
                )
        return parts
    raise ConversionError(number, f"{where}: 'content' must be a string or a list of text parts.")
