"""``POST /v1/webhooks/<entry>``: OpenAI's signed webhooks for one entry.

No bearer key: the Standard Webhooks signature is the authentication, and
it is checked by the service before anything else happens.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..services.jobs import inbound_webhooks
from ..services.ledger.context import MASTER, CallContext
from .schema import answers


class OpenAIWebhookView(APIView):
    """Receive an OpenAI webhook: verify it, then refresh the job it names."""

    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        responses=answers(OpenApiTypes.OBJECT, post=True),
        auth=[],
        operation_id="webhooks_receive",
        description="OpenAI's signed webhooks (Standard Webhooks) for one configured entry.",
    )
    def post(self, request: Request, entry: str) -> Response:
        django_request = request._request
        audit = django_request.__dict__.setdefault("ftproxy_audit", {})
        ctx = CallContext(caller=MASTER, audit=audit)
        body = django_request.body  # the exact bytes that were signed
        result = inbound_webhooks.receive_openai_webhook(ctx, entry, body, request.headers)
        return Response(result)
