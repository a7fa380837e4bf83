"""Every exception class of the gateway, in one leaf module.

Two families: ``GatewayError`` (the gateway's own refusals, raised by
services) and ``ProviderError`` (an upstream call failed, raised by
providers); the API layer shapes both into OpenAI's error envelope
(``envelope``). Plus ``ConfigError`` and ``EntryError`` for an invalid
configuration. This module imports nothing of the gateway's own, so every
layer may import it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured


class GatewayError(Exception):
    """An error of the gateway itself, with OpenAI's ``type``/``param``/``code``."""

    status_code = 400
    error_type = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        error_type: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type


class InvalidRequest(GatewayError):
    """400 naming the field at fault (``param``)."""


class UnusableFile(InvalidRequest):
    """400: a file a fine-tuning job cannot use (unknown, another key's,
    of another purpose, on an entry it cannot reach, breaking a dataset
    rule). One code for every cause and every key: ``invalid_<param>``
    (``invalid_training_file``, ``invalid_validation_file``), as the
    upstreams answer for a file they cannot use."""

    def __init__(self, message: str, *, param: str):
        super().__init__(message, param=param, code=f"invalid_{param}")


class NotFoundError(GatewayError):
    """404: unknown id, or another key's object (existence is not leaked)."""

    status_code = 404

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message, param=param, code="not_found")


class TooLarge(GatewayError):
    """413: the upload is larger than ``max_upload_mb``."""

    status_code = 413

    def __init__(self, message: str, *, param: str | None = "file"):
        super().__init__(message, param=param, code="file_too_large")


class RetryLater(GatewayError):
    """409: the same idempotent request is still in flight; a retry will
    see its stored response (the SDK retries 409 by itself)."""

    status_code = 409

    def __init__(self, message: str):
        super().__init__(message, code="request_in_progress", error_type="conflict_error")


class QuotaExceeded(GatewayError):
    """429 ``insufficient_quota``: the key's budget or job quota refuses the
    request. Retrying cannot help, so the answer says ``x-should-retry: false``."""

    status_code = 429
    error_type = "insufficient_quota"
    retryable = False

    def __init__(self, message: str, *, code: str):
        super().__init__(message, code=code)


class GatewayMisconfigured(GatewayError):
    """502: the ledger points at a provider entry that is no longer configured."""

    status_code = 502
    error_type = "server_error"


# --------------------------------------------------------------------------
# Upstream errors (raised by providers)
# --------------------------------------------------------------------------


class ProviderError(Exception):
    """An upstream call failed. Carries what the API layer needs to answer.

    ``status_code`` is the status the *gateway* answers with (already mapped:
    4xx passed on, 5xx 502, timeouts 504, unreachable 503);
    ``upstream_status`` is what the provider said, if it said anything.
    """

    status_code: ClassVar[int] = 502
    default_type: ClassVar[str] = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        upstream_status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: str | None = None,
        body: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.upstream_status = upstream_status
        self.type = type or self.default_type
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        return self.message


class ProviderInputError(ProviderError):
    """The provider rejected the user's input (its own 4xx, passed on as is)."""

    default_type = "invalid_request_error"

    def __init__(self, message: str, *, status_code: int = 400, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.status_code = status_code  # type: ignore[misc]


class ProviderNotFound(ProviderInputError):
    """The provider does not know the object."""

    def __init__(self, message: str, **kwargs: Any):
        super().__init__(message, status_code=404, **kwargs)


class ProviderNotSupported(ProviderError):
    """The operation does not exist for this provider (or API version): 400."""

    status_code = 400
    default_type = "invalid_request_error"


class ProviderRateLimited(ProviderError):
    """The provider said 429; passed on with its Retry-After."""

    status_code = 429
    default_type = "rate_limit_error"


class ProviderAuthError(ProviderError):
    """The provider rejected the gateway's own credentials: 502."""

    status_code = 502
    default_type = "upstream_auth_error"


class ProviderFailure(ProviderError):
    """The provider failed (5xx after retries, malformed answer): 502."""

    status_code = 502


class ProviderUnavailable(ProviderError):
    """The provider could not be reached (connection refused, DNS): 503."""

    status_code = 503
    default_type = "upstream_unavailable"


class ProviderTimeout(ProviderError):
    """The provider did not answer in time: 504."""

    status_code = 504
    default_type = "upstream_timeout"


class ProviderConnectTimeout(ProviderTimeout):
    """The provider did not accept a connection in time: 504, and the
    request never reached it."""


class ConversionError(ProviderInputError):
    """A line of the user's file cannot become the upstream's training example."""

    def __init__(self, line: int, message: str):
        super().__init__(f"Line {line}: {message}", param="file", code="invalid_training_file")
        self.line = line


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


class ConfigError(ImproperlyConfigured):
    """The configuration is invalid; the message says where and why."""


class EntryError(ValueError):
    """A provider entry of the configuration is invalid. ``key`` names the
    entry key at fault, when the message does not; ``check_id`` is the
    system check's id (``ftproxy.E…``) that reports it."""

    def __init__(self, message: str, *, key: str | None = None, check_id: str = "ftproxy.E006"):
        super().__init__(message)
        self.key = key
        self.check_id = check_id


# --------------------------------------------------------------------------
# Reading errors
# --------------------------------------------------------------------------


def envelope(message: str, error_type: str, param=None, code=None) -> dict:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def never_reached(exc: BaseException) -> bool:
    """Whether a failed upstream call surely never reached the provider."""
    return isinstance(exc, ProviderUnavailable | ProviderConnectTimeout)


def may_have_happened(exc: BaseException) -> bool:
    """Whether a failed upstream call may still have taken effect: it timed
    out waiting for an answer, the provider failed mid-way, or the gateway
    broke after sending. Such a create must not be repeated blindly."""
    if never_reached(exc):
        return False
    if isinstance(exc, ProviderTimeout | ProviderFailure):
        return True
    return not isinstance(exc, GatewayError | ProviderError)
