"""The HTTP layer shared by every HTTP provider.

One ``requests.Session`` per configured entry, built once, with urllib3
``Retry``: GET/DELETE are retried on 429/500/502/503/504 and on connection
and read errors, with exponential backoff, jitter and ``Retry-After``; POST
and PATCH are retried only when the connection failed before the request
was sent. A ``Retry-After`` up to ``RETRY_AFTER_CAP_SECONDS`` is slept; a
longer one is passed on to the client without retrying. Upstream answers
and transport failures are mapped to the ``ProviderError`` family here,
once, for all providers. Answers stream down: ``HttpClient.download``
hands back ``FileContent``. Request bodies that stream up (a file sent
chunk by chunk with a known Content-Length) are built in ``uploads``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from .base import (
    FileContent,
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

logger = logging.getLogger("ftproxy.providers")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods whose replay is safe after the request reached the upstream.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
#: Longest Retry-After the gateway waits for before retrying by itself; a
#: longer one is passed on to the client once retries are used up.
RETRY_AFTER_CAP_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0


class GatewayRetry(Retry):
    """urllib3 Retry that honours ``Retry-After`` only up to a cap.

    A wait up to ``RETRY_AFTER_CAP_SECONDS`` is slept and retried; a longer
    one is not retried at all: the answer (usually a 429) goes back at once
    with its Retry-After, so the client waits instead of a gateway worker.
    An unparsable Retry-After counts as absent (plain backoff) rather than
    failing the call.
    """

    def get_retry_after(self, response):  # noqa: D401 - urllib3 hook
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        if seconds is None:
            return None
        return min(seconds, RETRY_AFTER_CAP_SECONDS)

    def increment(
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if response is not None and self.respect_retry_after_header:
            header = response.headers.get("Retry-After")
            try:
                seconds = self.parse_retry_after(header) if header is not None else None
            except InvalidHeader:
                seconds = None
            if seconds is not None and seconds > RETRY_AFTER_CAP_SECONDS:
                # urllib3 (and responses) hand back the response itself when
                # retries end this way, because raise_on_status is False.
                raise MaxRetryError(
                    _pool, url, ResponseError(f"Retry-After of {seconds:g}s exceeds the cap")
                )
        return super().increment(
            method=method,
            url=url,
            response=response,
            error=error,
            _pool=_pool,
            _stacktrace=_stacktrace,
        )


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


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without the gateway's own credentials: the literal values
    it sends, and anything shaped like an API key."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


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
    if secrets and body is not None and any(secret in response.text for secret in secrets):
        body = None  # never keep a body that quotes a credential
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
        #: Credential values this client sends, redacted from upstream texts.
        self.secrets = tuple(
            value.removeprefix("Bearer ").strip()
            for name, value in (headers or {}).items()
            if name.lower() in CREDENTIAL_HEADERS
        )

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
                # A redirect elsewhere would carry custom credential headers
                # (api-key) along: the upstream APIs never redirect.
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            raise transport_error(exc, self.provider, self.timeout) from exc
        if not stream or response.status_code >= 300:
            # Stream mode errors are small JSON bodies: read them for the message.
            check_response(response, self.provider, self.secrets)
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

    def download(self, path: str, **kwargs: Any) -> FileContent:
        """GET ``path`` as a byte stream (see ``stream_content``)."""
        # identity: requests would otherwise gunzip a compressed answer, and
        # the bytes passed on would no longer match its Content-Length.
        headers = {"Accept-Encoding": "identity", **kwargs.pop("headers", {})}
        response = self.request("GET", path, headers=headers, stream=True, **kwargs)
        return stream_content(response, self.provider, self.timeout)


# --------------------------------------------------------------------------
# Streaming answers down
# --------------------------------------------------------------------------

#: Read size when streaming an answer down.
STREAM_CHUNK_BYTES = 64 * 1024


def stream_content(
    response: requests.Response, provider: str, timeout: tuple[float, float] = (0, 0)
) -> FileContent:
    """Wrap a ``stream=True`` response as ``FileContent``: 64 KiB chunks,
    its Content-Type and Content-Length, and ``close`` releasing the
    connection. A failure mid-stream is raised as a ``ProviderError``."""
    length = response.headers.get("Content-Length")
    encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"

    def chunks() -> Iterator[bytes]:
        try:
            yield from response.iter_content(STREAM_CHUNK_BYTES)
        except requests.exceptions.RequestException as exc:
            response.close()
            raise transport_error(exc, provider, timeout) from exc

    return FileContent(
        chunks=chunks(),
        content_type=response.headers.get("Content-Type") or "application/octet-stream",
        # A compressed answer is decoded on the way, so its length is not ours.
        length=int(length) if length and length.isdigit() and not encoded else None,
        close=response.close,
    )


def dumps(value: Any) -> str:
    """Compact JSON for logs and payload snapshots."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


__all__ = [
    "HttpClient",
    "ProviderError",
    "build_retry",
    "build_session",
    "check_response",
    "stream_content",
    "transport_error",
]
