"""Upstream answers and transport failures → the ``ProviderError`` family.

Mapped here once for all providers; upstream texts are redacted of the
gateway's own credentials before anything is passed on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from ..errors import (
    ProviderAuthError,
    ProviderConnectTimeout,
    ProviderError,
    ProviderFailure,
    ProviderInputError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)


def error_fields(body: Any) -> dict[str, Any]:
    """Pull message/type/code/param out of an upstream error body.

    Understands OpenAI's ``{"error": {message, type, param, code}}``, Azure's
    ``{"error": {code, message, target, innererror}}`` and Google's
    ``google.rpc.Status`` ``{"error": {code: int, message, status}}``.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, str):
        return {"message": err}
    if not isinstance(err, dict):
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return {"message": body["message"]}
        return {}
    code = err.get("code")
    if not isinstance(code, str):
        # Google puts the HTTP status in "code" and the canonical name in "status".
        code = err.get("status") if isinstance(err.get("status"), str) else None
    param = err.get("param") or err.get("target")
    typ = err.get("type") if isinstance(err.get("type"), str) else None
    return {
        "message": str(err.get("message") or ""),
        "code": code,
        "param": param if isinstance(param, str) else None,
        "type": typ if typ and typ != "error" else None,
    }


def parse_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


#: A credential this long or longer counts as quoted when its last
#: ``TAIL_CHARS`` characters are (masked, or without its prefix); a shorter
#: one only when it is quoted whole.
TAIL_FROM_CHARS = 16
TAIL_CHARS = 8
#: Characters of the word before a quoted tail (a key's prefix, mask); at
#: most 200, so a long run without separators costs no quadratic search.
_WORD = r"[^\s\"'`<>()\[\]{},;:=]{0,200}"


def _probe(secret: str) -> str:
    """What a text must contain to quote ``secret``: its tail, or all of it."""
    return secret[-TAIL_CHARS:] if len(secret) >= TAIL_FROM_CHARS else secret


@functools.lru_cache(maxsize=64)
def _quotes_of(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for every way a text may quote one of ``secrets``: the
    value whole, or the word that ends with its tail (``sk-****<tail>``,
    the value without its prefix)."""
    alternatives = []
    for secret in sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True):
        alternatives.append(re.escape(secret))
        if len(secret) >= TAIL_FROM_CHARS:
            alternatives.append(_WORD + re.escape(secret[-TAIL_CHARS:]))
    return re.compile("|".join(alternatives)) if alternatives else None


def might_quote(raw: str, secrets: Sequence[str]) -> bool:
    """Whether the raw text of a JSON answer may quote one of ``secrets`` once
    decoded: it holds a tail (or a whole short secret), or an escape, behind
    which any character may hide (``\\u0053`` is ``S``)."""
    return bool(secrets) and (
        "\\" in raw or any(_probe(secret) in raw for secret in secrets if secret)
    )


def _redact_secrets(text: str, secrets: Sequence[str]) -> str:
    pattern = _quotes_of(tuple(secrets))
    if pattern is None or not any(_probe(s) in text for s in secrets if s):
        return text
    return pattern.sub("[redacted]", text)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without the gateway's own credentials: the values it sends,
    whole or quoted by their tail (masked or without a prefix), and anything
    shaped like an API key."""
    return _KEY_LIKE.sub("[redacted]", _redact_secrets(text, secrets))


def redact_value(value: Any, secrets: Sequence[str]) -> Any:
    """A decoded JSON value with the ``secrets`` redacted from every string
    in it (keys included), whole or quoted by their tail."""
    if isinstance(value, str):
        return _redact_secrets(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(item, secrets) for item in value]
    return value


def check_response(
    response: requests.Response, provider: str, secrets: Sequence[str] = ()
) -> requests.Response:
    """Return ``response`` if it is a success, else raise the mapped error.
    Upstream texts may quote the gateway's credentials (``secrets``): they
    are redacted from every message passed on."""
    status = response.status_code
    if status < 300:
        return response
    if status < 400:
        raise ProviderFailure(
            f"The provider '{provider}' answered with an unexpected redirect (HTTP {status}).",
            provider=provider,
            upstream_status=status,
        )
    body = parse_body(response)
    fields = error_fields(body)
    text = fields.pop("message", "") or (response.text[:500] if body is None else "")
    text = redact(text, secrets)
    if secrets and body is not None and redact_value(body, secrets) != body:
        body = None  # never keep a body that quotes a credential (decoded: escapes undone)
    for name in ("code", "param", "type"):  # they reach the client, the ledger and the admin
        if isinstance(fields.get(name), str):
            fields[name] = redact(fields[name], secrets)
    common = {
        "provider": provider,
        "upstream_status": status,
        "body": body,
        "code": fields.get("code"),
        "param": fields.get("param"),
    }
    if status in (401, 403):
        raise ProviderAuthError(
            f"The provider '{provider}' rejected the gateway's credentials "
            f"(HTTP {status}): {text or 'no detail'}",
            **{**common, "body": None},
        )
    if status == 404:
        raise ProviderNotFound(text or "Not found upstream.", type=fields.get("type"), **common)
    if status == 429:
        raise ProviderRateLimited(
            text or f"The provider '{provider}' is rate limiting requests.",
            retry_after=response.headers.get("Retry-After"),
            type=fields.get("type"),
            **common,
        )
    if status < 500:
        raise ProviderInputError(
            text or f"The provider '{provider}' rejected the request (HTTP {status}).",
            # The OpenAI SDK retries 409; a state conflict upstream (Azure's
            # "conflict"/"unexpectedEntityState") is not fixed by retrying.
            status_code=400 if status == 409 else status,
            type=fields.get("type"),
            **common,
        )
    raise ProviderFailure(
        f"The provider '{provider}' failed (HTTP {status}): {text or 'no detail'}",
        **common,
    )


CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
#: OpenAI-style keys as upstreams quote them (often masked with '*'); not
#: ordinary words such as "key-value".
_KEY_LIKE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*\-]{8,}")


def _transport_cause(exc: BaseException) -> BaseException | None:
    """The urllib3 exception behind a requests one: requests wraps urllib3's
    ``MaxRetryError`` (whose ``reason`` is the last failure) or the bare
    error in ``args[0]``."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return cause if isinstance(cause, BaseException) else None


def transport_error(
    exc: requests.exceptions.RequestException,
    provider: str,
    timeout: tuple[float, float],
) -> ProviderError:
    """Map a failure to get any answer at all to the ProviderError family.

    Decided on the underlying urllib3 error, not on message text: requests
    reports a read timeout that used up the retries as a ConnectionError.
    """
    cause = _transport_cause(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ProviderConnectTimeout(
            f"The provider '{provider}' did not accept a connection within {timeout[0]:g} seconds.",
            provider=provider,
        )
    if isinstance(exc, requests.exceptions.Timeout) or isinstance(cause, ReadTimeoutError):
        return ProviderTimeout(
            f"The provider '{provider}' did not answer within {timeout[1]:g} seconds.",
            provider=provider,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        if isinstance(cause, ProtocolError):
            # The request got through and the connection died before an
            # answer: the provider failed, it was not unreachable.
            return ProviderFailure(
                f"The provider '{provider}' closed the connection without answering.",
                provider=provider,
            )
        detail = "refused the connection" if isinstance(cause, NewConnectionError) else ""
        return ProviderUnavailable(
            f"The provider '{provider}' could not be reached"
            + (f" ({detail})." if detail else "."),
            provider=provider,
        )
    return ProviderFailure(
        f"The request to provider '{provider}' failed: {type(exc).__name__}.",
        provider=provider,
    )
