"""The HTTP layer shared by every HTTP provider.

One ``requests.Session`` per configured entry, built once, with the retry
policy of ``retry``; upstream answers and transport failures are mapped to
the ``ProviderError`` family by ``upstream_errors``, once, for all
providers. Answers stream down: ``HttpClient.download`` hands back
``FileContent``. Request bodies that stream up (a file sent chunk by chunk
with a known Content-Length) are built in ``uploads``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from .. import metrics
from ..errors import ProviderError, ProviderFailure
from .data import FileContent
from .retry import (
    CONNECT_TIMEOUT_SECONDS,
    IDEMPOTENT_METHODS,
    RETRY_AFTER_CAP_SECONDS,
    RETRY_STATUSES,
    GatewayRetry,
    build_retry,
    build_session,
)
from .upstream_errors import (
    CREDENTIAL_HEADERS,
    check_response,
    error_fields,
    might_quote,
    parse_body,
    redact,
    redact_value,
    transport_error,
)

logger = logging.getLogger("ftproxy.providers")


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
        # ``Session.request`` reads the environment (proxies, CA bundle,
        # .netrc) on every call: requests' prepared-request steps, with the
        # environment read once per host instead (``_environment``).
        self.session.trust_env = False
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}
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
        accept: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send one request (with the session's retries) and return the
        successful response (or one whose status is in ``accept``, such as
        a resumable upload's 308); raise a ``ProviderError`` otherwise."""
        merged = {**self.params, **(params or {})} or None
        url = self.url(path)
        started = time.monotonic()
        try:
            if self._plain_session:
                response = self.session.send(
                    self._prepare(method, url, merged, json_body, data, headers),
                    **self._environment(url),
                    timeout=self.timeout,
                    stream=stream,
                    allow_redirects=False,
                )
            else:  # a session of its own kind (google-auth's): its own request()
                response = self.session.request(
                    method,
                    url,
                    params=merged,
                    **self._environment(url),
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
            metrics.observe_upstream(self.provider, "error", time.monotonic() - started)
            raise transport_error(exc, self.provider, self.timeout) from exc
        metrics.observe_upstream(self.provider, response.status_code, time.monotonic() - started)
        if response.status_code in accept:
            return response
        if not stream or response.status_code >= 300:
            # Stream mode errors are small JSON bodies: read them for the message.
            check_response(response, self.provider, self.secrets)
        return response

    @property
    def _plain_session(self) -> bool:
        return type(self.session).request is requests.Session.request

    def _prepare(self, method, url, params, json_body, data, headers) -> requests.PreparedRequest:
        """``Session.prepare_request`` (the session's headers, auth and
        cookies merged in), with JSON encoded by orjson."""
        if json_body is not None and data is None:
            try:
                data = orjson.dumps(json_body)
            except TypeError:  # integers past 64 bits, non-string keys: as requests would
                data = json.dumps(json_body, allow_nan=False).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        return self.session.prepare_request(
            requests.Request(method, url, params=params, data=data, headers=headers)
        )

    def _environment(self, url: str) -> dict[str, Any]:
        """The proxies and CA bundle requests takes from the environment for
        ``url``'s host (``Session.merge_environment_settings``), read once."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environments.get(key)
        if found is None:
            with requests.Session() as reader:  # trust_env: it reads the environment
                merged = reader.merge_environment_settings(
                    url, {}, None, self.session.verify, self.session.cert
                )
            found = {"proxies": merged["proxies"], "verify": merged["verify"]}
            if merged["cert"] is not None:
                found["cert"] = merged["cert"]
            self._environments[key] = found
        return found

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON answer (``{}`` for an empty body)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderFailure(
                f"The provider '{self.provider}' answered with malformed JSON.",
                provider=self.provider,
                upstream_status=response.status_code,
            ) from exc
        if might_quote(response.text, self.secrets):
            # An upstream quoting the gateway's credential back (whole, by its
            # tail, or JSON-escaped) must not put it in a user's answer, the
            # ledger or the admin: judged on the decoded values.
            data = redact_value(data, self.secrets)
        return data

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
    "CONNECT_TIMEOUT_SECONDS",
    "CREDENTIAL_HEADERS",
    "IDEMPOTENT_METHODS",
    "RETRY_AFTER_CAP_SECONDS",
    "RETRY_STATUSES",
    "GatewayRetry",
    "HttpClient",
    "ProviderError",
    "build_retry",
    "build_session",
    "check_response",
    "error_fields",
    "parse_body",
    "redact",
    "stream_content",
    "transport_error",
]
