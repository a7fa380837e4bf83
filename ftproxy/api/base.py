"""The one base of every gateway view.

Each class here sets its own authentication, permissions, parsers,
renderers, content negotiation, exception handler and schema class (DRF's
per-view attributes and hooks), so the app reads nothing from its host's
``REST_FRAMEWORK`` setting, and the host's own DRF views keep theirs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from ..errors import InvalidRequest, TooLarge
from ..services.ledger import idempotency
from ..services.ledger.context import CallContext
from ..services.ledger.reconcile import reconcile
from . import hygiene, shapes
from .authentication import BearerKeyAuthentication
from .exceptions import openai_exception_handler, unknown_path
from .middleware import audit_facts
from .negotiation import AnyAcceptNegotiation
from .renderers import ORJSONRenderer

#: Where a request names the provider entry it targets.
ENTRY_FIELD = "custom_llm_provider"
ENTRY_HEADER = "custom-llm-provider"
#: Multipart overhead allowed on top of an upload's limit before the body is read.
MULTIPART_SLACK = 1024 * 1024


class GatewayView(APIView):
    """A gateway endpoint: bearer keys, OpenAI's error envelope, JSON out."""

    authentication_classes = (BearerKeyAuthentication,)
    permission_classes = (IsAuthenticated,)
    parser_classes = (hygiene.StrictJSONParser, MultiPartParser, FormParser)
    renderer_classes = (ORJSONRenderer,)
    content_negotiation_class = AnyAcceptNegotiation
    metadata_class = SimpleMetadata
    throttle_classes = ()
    versioning_class = None
    schema = AutoSchema()
    #: Each call is an audit row (``middleware.RequestContextMiddleware``).
    audited = True

    def initialize_request(self, request, *args, **kwargs):
        #: Django's request, for what must be set before DRF reads the body
        #: (upload handlers) and for the exact bytes of a signed body.
        self.http_request = request
        return super().initialize_request(request, *args, **kwargs)

    def get_exception_handler(self):
        return openai_exception_handler

    def context(self) -> CallContext:
        """The service context of this call; the facts it gathers are the
        ones the audit middleware records."""
        hygiene.check_request(self.request)
        return CallContext(caller=self.request.user, audit=audit_facts(self.request))

    #: A create's validated body, once validated: the entry it names is
    #: read from there (as its serializer cleaned it).
    validated_body: Mapping[str, Any] | None = None

    @cached_property
    def entry(self) -> str | None:
        """The configured entry this request names: ``custom_llm_provider``
        in a POST's body (JSON or form), else in the query, else the
        ``custom-llm-provider`` header (which, if sent too, must agree, and
        is never blank); None when it names none. Read it once the body
        may be parsed (a file upload sets its handlers first)."""
        request = self.request
        body = self.validated_body
        if body is None and request.method == "POST":
            body = request.data
        header = request.headers.get(ENTRY_HEADER)
        if header is not None and not header.strip():
            # As a blank field is refused: it names no configured entry.
            raise InvalidRequest(f"{ENTRY_HEADER}: may not be blank.", param=ENTRY_HEADER)
        for source in (body, request.query_params):
            if isinstance(source, Mapping) and source.get(ENTRY_FIELD):
                named = str(source.get(ENTRY_FIELD))
                if header is not None and header != named:
                    raise InvalidRequest(
                        f"{ENTRY_HEADER}: {header!r} disagrees with {ENTRY_FIELD} {named!r}; "
                        "name one entry.",
                        param=ENTRY_HEADER,
                    )
                return named
        return header or None


class UnknownRoute(GatewayView):
    """Any other path under ``v1/``: OpenAI's 404 envelope, whatever the
    host project's ``handler404`` says (audited, as every API call)."""

    authentication_classes = ()
    permission_classes = ()
    schema = None  # no operation of its own

    def answer(self, request, *args, **kwargs) -> Response:
        return Response(unknown_path(request), status=404)

    get = post = put = patch = delete = head = options = answer


class GatewayViewSet(ViewSetMixin, GatewayView):
    """A gateway resource on the router (lists are cursor-paged by the
    services, in OpenAI's shape: no DRF pagination)."""

    pagination_class = None
    lookup_value_converter = "str"


def validated(serializer_class, data) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def list_body(data: list[dict], has_more: bool, *, with_ids: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if with_ids:
        body["first_id"] = data[0]["id"] if data else None
        body["last_id"] = data[-1]["id"] if data else None
    return body


def replayable(
    request, ctx: CallContext, fingerprint: str | None, produce, settle=reconcile
) -> Response:
    status_code, body, replayed = idempotency.run_once(
        ctx,
        request.headers.get("Idempotency-Key"),
        fingerprint,
        produce,
        shapes.answer_of,
        settle,
    )
    response = Response(body, status=status_code)
    if replayed:
        response["Idempotent-Replayed"] = "true"
        if status_code >= 500:
            response["x-should-retry"] = "false"  # the same answer every time
    return response


def sha256_of(upload) -> str:
    """SHA-256 of an uploaded file, read in chunks from Django's spool."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def check_declared_size(request, limit: int, what: str, param: str) -> None:
    """413 before the body is read, when its declared length is over ``limit``."""
    declared = request.META.get("CONTENT_LENGTH")
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and int(declared) > limit + MULTIPART_SLACK
    ):
        raise TooLarge(
            f"The request is {declared} bytes; {what} {limit // (1024 * 1024)} MB"
            + (" (ftproxy_settings.max_upload_mb)." if param == "file" else "."),
            param=param,
        )
