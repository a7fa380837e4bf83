"""The retry policy and pooled session every HTTP provider uses.

GET/DELETE are retried on 429/500/502/503/504 and on connection and read
errors, with exponential backoff, jitter and ``Retry-After``; POST and PATCH
only when the connection failed before the request was sent. A
``Retry-After`` up to ``RETRY_AFTER_CAP_SECONDS`` is slept; a longer one is
passed on to the client without retrying.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

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
    """The retry policy of this module (docs/architecture.md) for ``max_retries`` retries."""
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
