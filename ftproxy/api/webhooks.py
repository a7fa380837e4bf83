"""``POST /v1/webhooks/<entry>``: OpenAI's signed webhooks for one entry.

No bearer key: the Standard Webhooks signature is the authentication, and
it is checked by the service before anything else happens.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request
from rest_framework.response import Response

from ..services.jobs import inbound_webhooks
from ..services.ledger.context import MASTER, CallContext
from .base import GatewayView
from .middleware import audit_facts
from .schema import answers, operation


class OpenAIWebhookView(GatewayView):
    """Receive an OpenAI webhook: verify it, then refresh the job it names."""

    authentication_classes = ()
    permission_classes = ()

    @operation(
        request={"application/json": OpenApiTypes.OBJECT},
        responses=answers(OpenApiTypes.OBJECT, post=True),
        auth=[],
        operation_id="webhooks_receive",
        summary="Receive an OpenAI webhook",
        description="OpenAI's signed webhooks (Standard Webhooks) for one configured entry.",
    )
    def post(self, request: Request, entry: str) -> Response:
        ctx = CallContext(caller=MASTER, audit=audit_facts(request))
        body = self.http_request.body  # the exact bytes that were signed
        result = inbound_webhooks.receive_openai_webhook(ctx, entry, body, request.headers)
        return Response(result)
