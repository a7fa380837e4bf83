"""Input hygiene: what no field may hold, checked before anything is stored.

PostgreSQL refuses NUL in text, SQLite (and UTF-8 itself) lone surrogates,
JSON columns a number past the float range (``1e400`` parses as infinity),
and Python's JSON recursion ends in a ``RecursionError`` on deep nesting:
each would surface as a 500 at the first write or read. They are refused
here with a 400 that names the field.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ..errors import GatewayError, InvalidRequest
from ..validation.text import unstorable

#: Deeper JSON than this is refused (OpenAI's bodies nest four levels).
MAX_DEPTH = 32
#: Headers stored or compared as text.
CHECKED_HEADERS = ("Idempotency-Key", "custom-llm-provider")


def _bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    return unstorable(text)


def check_text(text: str, param: str | None) -> None:
    reason = _bad_text(text)
    if reason is not None:
        raise InvalidRequest(f"{param or 'The request'} {reason}.", param=param)


def check_value(value: Any, param: str = "", depth: int = 0) -> None:
    """Walk a parsed JSON value; 400 naming the first bad field."""
    if isinstance(value, str):
        check_text(value, param or None)
    elif isinstance(value, float) and not math.isfinite(value):
        # ``1e400`` parses as infinity: no column or upstream takes it.
        raise InvalidRequest(
            f"{param or 'The body'} is a number too large to represent.", param=param or None
        )
    elif isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise InvalidRequest(
                f"{param or 'The body'} is nested more than {MAX_DEPTH} levels deep.",
                param=param or None,
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                reason = _bad_text(key)
                if reason is not None:
                    raise InvalidRequest(
                        f"A key of {param or 'the body'} {reason}.", param=param or None
                    )
                child = f"{param}.{key}" if param else key
            else:
                child = f"{param}[{key}]"
            check_value(item, child, depth + 1)


def check_request(request) -> None:
    """The path, query string and text headers of a request; and a body
    sent without a length where one is needed (411). ``request`` is
    Django's or DRF's (which reads through to Django's)."""
    check_text(request.path, None)
    for key, values in request.GET.lists():
        check_text(key, key)
        for item in values:
            check_text(item, key)
    for name in CHECKED_HEADERS:
        value = request.headers.get(name)
        if value:
            check_text(value, name)
    meta = request.META
    if (
        request.method in ("POST", "PUT", "PATCH")
        and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        and not meta.get("CONTENT_LENGTH")
    ):
        raise GatewayError(
            "Send the body with a Content-Length: this server does not read chunked request "
            "bodies (the gateway site, and nginx in front of it, do).",
            status_code=411,
            code="length_required",
        )


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies over the limit (413), nesting that
    Python cannot parse, NUL bytes and lone surrogates (400)."""

    strict = True  # no NaN or Infinity, whatever the host's STRICT_JSON says

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            limit is not None
            and declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > limit
        ):
            raise GatewayError(
                f"The JSON body is {declared} bytes; this gateway accepts JSON bodies up to "
                f"{limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                status_code=413,
                code="request_too_large",
            )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        check_value(data)
        return data
