"""The gateway's own errors, raised by services and shaped by the API layer
into OpenAI's envelope."""

from __future__ import annotations


def envelope(message: str, error_type: str, param=None, code=None) -> dict:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def never_reached(exc: BaseException) -> bool:
    """Whether a failed upstream call surely never reached the provider."""
    from .providers.base import ProviderConnectTimeout, ProviderUnavailable

    return isinstance(exc, ProviderUnavailable | ProviderConnectTimeout)


def may_have_happened(exc: BaseException) -> bool:
    """Whether a failed upstream call may still have taken effect: it timed
    out waiting for an answer, the provider failed mid-way, or the gateway
    broke after sending. Such a create must not be repeated blindly."""
    from .providers.base import ProviderError, ProviderFailure, ProviderTimeout

    if never_reached(exc):
        return False
    if isinstance(exc, ProviderTimeout | ProviderFailure):
        return True
    return not isinstance(exc, GatewayError | ProviderError)


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
