"""OpenAI's error envelope for every error the API answers with.

``{"error": {"message", "type", "param", "code"}}``, from DRF exceptions,
provider errors, gateway errors, and Django's own 404/500 on API paths.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sys

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from ..errors import GatewayError, ProviderError, envelope, may_have_happened
from ..services.ledger.context import UPSTREAM_CALLED
from .middleware import audit_facts

logger = logging.getLogger("ftproxy.api")


def _first_validation_error(detail, prefix: str = "") -> tuple[str | None, str]:
    """The first (param, message) of a DRF ValidationError's detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            if isinstance(field, int):  # an item of a list (DRF keys list errors by index)
                return _first_validation_error(value, f"{prefix}[{field}]")
            name = field if field != "non_field_errors" else ""
            param = f"{prefix}.{name}" if prefix and name else (name or prefix)
            return _first_validation_error(value, param)
    if isinstance(detail, list) and detail:
        if all(not isinstance(item, dict | list) for item in detail):
            return prefix or None, " ".join(str(item) for item in detail)
        for index, item in enumerate(detail):
            if item:
                return _first_validation_error(item, f"{prefix}[{index}]")
    return prefix or None, str(detail)


def openai_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error in OpenAI's shape."""
    request = context.get("request")  # DRF's Request reads through to Django's
    headers: dict[str, str] = {}
    if isinstance(exc, ProviderError):
        body = envelope(exc.message, exc.type, exc.param, exc.code)
        if exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
        status_code = exc.status_code
        _note(request, exc.message, exc.provider, exc.upstream_status)
    elif isinstance(exc, GatewayError):
        body = envelope(exc.message, exc.error_type, exc.param, exc.code)
        status_code = exc.status_code
        if getattr(exc, "retryable", True) is False:
            headers["x-should-retry"] = "false"
        _note(request, exc.message)
    elif isinstance(exc, exceptions.ValidationError):
        param, message = _first_validation_error(exc.detail)
        text = f"{param}: {message}" if param and not message.startswith(param) else message
        body = envelope(text, "invalid_request_error", param, "invalid_value")
        status_code = status.HTTP_400_BAD_REQUEST
        _note(request, text)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        message = str(exc.detail)
        if isinstance(exc, exceptions.NotAuthenticated):
            message = "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
        body = envelope(message, "invalid_request_error", None, "invalid_api_key")
        status_code = status.HTTP_401_UNAUTHORIZED
        headers["WWW-Authenticate"] = 'Bearer realm="ftproxy"'
        _note(request, message)
    elif isinstance(exc, Http404 | exceptions.NotFound):
        body = envelope("Not found.", "invalid_request_error", None, "not_found")
        status_code = status.HTTP_404_NOT_FOUND
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = envelope(
            str(detail),
            "invalid_request_error",
            None,
            exc.get_codes() if isinstance(exc.get_codes(), str) else None,
        )
        status_code = exc.status_code
        _note(request, str(detail))
    elif isinstance(exc, PermissionDenied):
        body = envelope("Permission denied.", "invalid_request_error", None, None)
        status_code = status.HTTP_403_FORBIDDEN
    elif isinstance(exc, OperationalError | InterfaceError):
        # No traceback: the request line (ftproxy.requests) says it, once.
        body = envelope(
            "The gateway's database is unavailable; try again shortly.",
            "server_error",
            None,
            "database_unavailable",
        )
        status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        _note(request, f"database error: {type(exc).__name__}")
    elif isinstance(exc, OSError) and exc.errno in DISK_FULL:
        _close_spooled_uploads(request)
        body = envelope(
            "The gateway's disk is full: the request could not be stored. Nothing was kept; "
            "try again later.",
            "server_error",
            None,
            "insufficient_storage",
        )
        status_code = 507
        logger.error("disk full while handling %s %s", getattr(request, "method", ""), exc)
        _note(request, f"disk full: {exc}")
    else:
        return None
    if request is not None and not should_retry(request, status_code, exc):
        headers["x-should-retry"] = "false"
    return Response(body, status=status_code, headers=headers)


#: A full disk, or a full quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _close_spooled_uploads(request) -> None:
    """Close (and so remove) the partial spool files of a request whose
    disk filled up, instead of leaving them open until the worker ends."""
    for handler in getattr(request, "upload_handlers", None) or ():
        spooled = getattr(handler, "file", None)
        if spooled is not None:
            with contextlib.suppress(OSError):
                spooled.close()


def should_retry(request, status_code: int, exc: BaseException | None) -> bool:
    """Whether the OpenAI SDK may retry this answer by itself. It retries
    every 5xx; a POST that may have reached the provider must not be
    repeated blindly (it could create a second job), so such answers say
    ``x-should-retry: false``. A POST that failed before any provider call
    (the database down, a full disk), or whose provider was never reached,
    is safe to retry."""
    if status_code < 500 or request.method != "POST":
        return True
    if not getattr(request, "ftproxy_audit", {}).get(UPSTREAM_CALLED):
        return True
    return exc is not None and not may_have_happened(exc)


def _note(request, message: str, provider: str = "", upstream_status: int | None = None) -> None:
    """Put the error on the request for the audit middleware."""
    if request is None:
        return
    audit = audit_facts(request)
    audit["error"] = message
    if provider:
        audit.setdefault("provider", provider)
    if upstream_status is not None:
        audit["upstream_status"] = upstream_status


def _is_api_path(path: str) -> bool:
    return not path.startswith(("/admin", "/static"))


def unknown_path(request) -> dict:
    """OpenAI's envelope for a path no route answers."""
    return envelope(
        f"Unknown path: {request.method} {request.path}",
        "invalid_request_error",
        None,
        "unknown_url",
    )


def json_page_not_found(request, exception=None):
    """handler404: OpenAI's envelope on API paths, Django's page elsewhere."""
    if not _is_api_path(request.path):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return JsonResponse(unknown_path(request), status=404)


def json_bad_request(request, exception=None):
    """handler400 (e.g. too many form fields): OpenAI's envelope on API paths."""
    if not _is_api_path(request.path):
        from django.views.defaults import bad_request

        return bad_request(request, exception)
    message = str(exception) if exception else "Bad request."
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            envelope(
                f"The request body is too large: {message}",
                "invalid_request_error",
                None,
                "request_too_large",
            ),
            status=413,
        )
    return JsonResponse(
        envelope(message or "Bad request.", "invalid_request_error", None, "bad_request"),
        status=400,
    )


def json_server_error(request):
    """handler500: OpenAI's envelope on API paths, Django's page elsewhere."""
    if not _is_api_path(request.path):
        from django.views.defaults import server_error

        return server_error(request)
    request_id = getattr(request, "ftproxy_request_id", None)
    exc = sys.exc_info()[1]  # handler500 runs while the exception is handled
    audit = audit_facts(request)
    audit["error"] = (
        f"unhandled {type(exc).__name__ if exc else 'error'} (request_id={request_id or '-'})"
    )
    message = "The gateway failed to handle the request."
    if request_id:
        message += f" Quote request id {request_id} when reporting it."
    response = JsonResponse(envelope(message, "server_error", None, "internal_error"), status=500)
    if not should_retry(request, 500, None):
        response["x-should-retry"] = "false"
    return response
