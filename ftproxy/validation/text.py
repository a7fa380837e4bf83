"""Text no database can store: PostgreSQL refuses NUL, SQLite (and UTF-8
itself) lone surrogates. Pure: the API's input hygiene and the services
that parse a body themselves (inbound webhooks) ask the same question."""

from __future__ import annotations


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains invalid Unicode (a lone surrogate)"
    return None
