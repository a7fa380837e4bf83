"""The HTTP layer shared by every HTTP provider.

One ``requests.Session`` per configured entry, built once, with urllib3
``Retry``: GET/DELETE are retried on 429/500/502/503/504 and on connection
and read errors, with exponential backoff, jitter and ``Retry-After``; POST
and PATCH are retried only when the connection failed before the request
was sent. Upstream answers and transport failures are mapped to the
``ProviderError`` family here, once, for all providers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .base import (
    ProviderAuthError,
    ProviderError,
    ProviderFailure,
    ProviderInputError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

logger = logging.getLogger("ftproxy.providers")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods whose replay is safe after the request reached the upstream.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
#: Longest Retry-After the gateway waits for before retrying by itself; a
#: longer one is passed on to the client once retries are used up.
RETRY_AFTER_CAP_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0


class GatewayRetry(Retry):
    """urllib3 Retry whose honoured Retry-After is capped, so a worker never
    sleeps for minutes on the upstream's say-so."""

    def get_retry_after(self, response):  # noqa: D401 - urllib3 hook
        seconds = super().get_retry_after(response)
        if seconds is None:
            return None
        return min(seconds, RETRY_AFTER_CAP_SECONDS)


def build_retry(max_retries: int) -> Retry:
    """The retry policy of DESIGN §6 for ``max_retries`` attempts."""
    return GatewayRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.5,
        backoff_jitter=0.25,
        backoff_max=8,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def build_session(max_retries: int, session: requests.Session | None = None) -> requests.Session:
    """Mount the retrying, pooling adapter on ``session`` (a new one by
    default; pass e.g. google-auth's ``AuthorizedSession``)."""
    session = session or requests.Session()
    adapter = HTTPAdapter(max_retries=build_retry(max_retries), pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


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


def check_response(response: requests.Response, provider: str) -> requests.Response:
    """Return ``response`` if it is a success, else raise the mapped error."""
    status = response.status_code
    if status < 400:
        return response
    body = parse_body(response)
    fields = error_fields(body)
    text = fields.pop("message", "") or (response.text[:500] if body is None else "")
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
            **common,
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
            status_code=status,
            type=fields.get("type"),
            **common,
        )
    raise ProviderFailure(
        f"The provider '{provider}' failed (HTTP {status}): {text or 'no detail'}",
        **common,
    )


class HttpClient:
    """A configured entry's connection to its upstream: base URL, fixed
    headers, timeouts and the retrying session, all built once."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout: float = 600,
        max_retries: int = 2,
        session: requests.Session | None = None,
    ):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.params = dict(params or {})
        self.timeout = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)
        self.session = build_session(max_retries, session)
        self.session.headers.update(headers or {})

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request (with the session's retries) and return the
        successful response; raise a ``ProviderError`` otherwise."""
        merged = {**self.params, **(params or {})} or None
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=merged,
                json=json_body,
                data=data,
                headers=headers,
                timeout=self.timeout,
                stream=stream,
            )
        except requests.exceptions.Timeout as exc:
            raise ProviderTimeout(
                f"The provider '{self.provider}' did not answer within "
                f"{self.timeout[1]:g} seconds.",
                provider=self.provider,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                raise ProviderTimeout(
                    f"The provider '{self.provider}' did not answer in time.",
                    provider=self.provider,
                ) from exc
            raise ProviderUnavailable(
                f"The provider '{self.provider}' could not be reached.",
                provider=self.provider,
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise ProviderFailure(
                f"The request to provider '{self.provider}' failed: {type(exc).__name__}.",
                provider=self.provider,
            ) from exc
        if not stream or response.status_code >= 400:
            # Stream mode errors are small JSON bodies: read them for the message.
            check_response(response, self.provider)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON answer (``{}`` for an empty body)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderFailure(
                f"The provider '{self.provider}' answered with malformed JSON.",
                provider=self.provider,
                upstream_status=response.status_code,
            ) from exc


def dumps(value: Any) -> str:
    """Compact JSON for logs and payload snapshots."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


__all__ = ["HttpClient", "ProviderError", "build_retry", "build_session", "check_response"]
