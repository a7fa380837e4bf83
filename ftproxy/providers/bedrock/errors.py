"""botocore's exceptions → the gateway's ``ProviderError`` family.

Decided on the AWS error code first (``ThrottlingException``,
``AccessDeniedException``, …) and the HTTP status second, so an endpoint
that answers a code with an unusual status (moto answers
``ResourceNotFoundException`` with a 400) is still understood. Messages are
redacted of the entry's own credentials before they go anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from ...errors import (
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
from ..upstream_errors import redact

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "SlowDown",
        "RequestLimitExceeded",
    }
)
ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NoSuchUpload"}
)


class RetryAfterTooLong(Exception):
    """Raised from botocore's ``needs-retry`` event when the answer asks for a
    longer wait than the gateway spends: the client waits instead."""

    def __init__(self, response: dict[str, Any], retry_after: str):
        super().__init__(retry_after)
        self.response = response
        self.retry_after = retry_after


def client_error(
    exc: ClientError, provider: str, secrets: Sequence[str], retry_after: str | None = None
) -> ProviderError:
    """The gateway's answer to an error AWS answered with."""
    response = exc.response or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    status = meta.get("HTTPStatusCode")
    headers = meta.get("HTTPHeaders") or {}
    text = redact(str(error.get("Message") or ""), secrets) or "no detail"
    common: dict[str, Any] = {"provider": provider, "upstream_status": status, "code": code or None}
    if code in THROTTLING_CODES or status == 429:
        return ProviderRateLimited(
            f"AWS is throttling the entry '{provider}' ({code or status}): {text}",
            retry_after=retry_after or headers.get("retry-after"),
            **common,
        )
    if code in ACCESS_CODES or status in (401, 403):
        failed = ProviderAuthError(
            f"AWS denied the entry '{provider}' ({code or status}): {text} Check the "
            "entry's credentials and the IAM permissions of its principal and 'role_arn'.",
            **common,
        )
        failed.status_code = 403  # type: ignore[misc]
        return failed
    if code in NOT_FOUND_CODES or status == 404:
        return ProviderNotFound(text, **common)
    if status is not None and status >= 500:
        return ProviderFailure(
            f"AWS failed for the entry '{provider}' (HTTP {status}, {code}): {text}", **common
        )
    # ValidationException, ConflictException, ServiceQuotaExceededException…:
    # the user's request as AWS judged it, passed on as a 400.
    return ProviderInputError(f"{code or 'AWS'}: {text}", status_code=400, **common)


def transport_error(exc: BotoCoreError, provider: str, timeout: float) -> ProviderError:
    """The gateway's answer when AWS gave none (or could not be asked)."""
    if isinstance(exc, ConnectTimeoutError):
        return ProviderConnectTimeout(
            f"AWS did not accept a connection for the entry '{provider}' in time.",
            provider=provider,
        )
    if isinstance(exc, ReadTimeoutError):
        return ProviderTimeout(
            f"AWS did not answer the entry '{provider}' within {timeout:g} seconds.",
            provider=provider,
        )
    if isinstance(exc, ConnectionClosedError):
        return ProviderFailure(
            f"AWS closed the connection without answering the entry '{provider}'.",
            provider=provider,
        )
    if isinstance(exc, EndpointConnectionError):
        return ProviderUnavailable(
            f"AWS could not be reached for the entry '{provider}'.", provider=provider
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ProviderAuthError(
            f"The entry '{provider}' has no usable AWS credentials (set its keys, a profile, "
            "or a role for the default chain).",
            provider=provider,
        )
    if isinstance(exc, ParamValidationError):
        return ProviderInputError(str(exc), provider=provider)
    return ProviderFailure(
        f"The call to AWS for the entry '{provider}' failed: {type(exc).__name__}.",
        provider=provider,
    )
