"""Incoming webhooks: managing them (owner tokens; responses never carry a secret) and receiving deliveries.

The delivery endpoint is public: it takes no API token, the webhook's own authentication (basic, API key or
HMAC signature) is the check, made on the raw body before anything is parsed. It answers 200 with the event
(or 204 when the webhook says not to return it), 403 `webhook_auth_failed` when the check fails (nothing is
recorded, nothing starts), 400 `invalid_delivery` naming what is wrong with a body that passed, and 404
`not_found` for a name that is no webhook, 429 `throttled` past API_THROTTLE_WEBHOOK_RATE deliveries to one webhook.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sfpserver.accounts.permissions import Capability
from sfpserver.api.parsers import PayloadTooLarge
from sfpserver.api.serializers.common import MessageResponse
from sfpserver.api.serializers.webhooks import (
    DeliveryResponse,
    WebhookCreateRequest,
    WebhookListResponse,
    WebhookResponse,
    WebhookUpdateRequest,
)
from sfpserver.api.throttling import WebhookDeliveryThrottle
from sfpserver.api.views.common import validated
from sfpserver.hatchet import webhooks
from sfpserver.hatchet.event_errors import WebhookNotFound

TAGS = ["webhooks"]


def _described(webhook: Any, code: int = status.HTTP_200_OK) -> Response:
    return Response(webhooks.describe(webhook), status=code)


class WebhookListView(APIView):
    capabilities = {"GET": Capability.MANAGE_WEBHOOKS, "POST": Capability.MANAGE_WEBHOOKS}

    @extend_schema(
        tags=TAGS, operation_id="list_webhooks", responses={200: WebhookListResponse}, summary="Incoming webhooks"
    )
    def get(self, request: Request) -> Response:
        return Response({"rows": [webhooks.describe(w) for w in webhooks.list_webhooks()]})

    @extend_schema(
        tags=TAGS,
        operation_id="create_webhook",
        request=WebhookCreateRequest,
        responses={201: WebhookResponse},
        summary="Create an incoming webhook (its secret is never shown again)",
    )
    def post(self, request: Request) -> Response:
        data = validated(WebhookCreateRequest, request.data).validated_data
        created = webhooks.create_webhook(
            source_name=data["sourceName"],
            name=data["name"],
            event_key_expression=data["eventKeyExpression"],
            auth_type=data["authType"],
            auth=data["auth"],
            scope_expression=data.get("scopeExpression"),
            static_payload=data.get("staticPayload"),
            return_event_as_response_payload=data["returnEventAsResponsePayload"],
        )
        return _described(created, status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    capabilities = {
        "GET": Capability.MANAGE_WEBHOOKS,
        "PATCH": Capability.MANAGE_WEBHOOKS,
        "DELETE": Capability.MANAGE_WEBHOOKS,
    }

    @extend_schema(tags=TAGS, operation_id="get_webhook", responses={200: WebhookResponse}, summary="One webhook")
    def get(self, request: Request, name: str) -> Response:
        return _described(webhooks.get_webhook(name))

    @extend_schema(
        tags=TAGS,
        operation_id="update_webhook",
        request=WebhookUpdateRequest,
        responses={200: WebhookResponse},
        summary="Change a webhook's expressions or static payload (its name, source and auth stay)",
    )
    def patch(self, request: Request, name: str) -> Response:
        data = validated(WebhookUpdateRequest, request.data).validated_data
        updated = webhooks.update_webhook(
            name,
            event_key_expression=data.get("eventKeyExpression"),
            scope_expression=data.get("scopeExpression"),
            static_payload=data.get("staticPayload"),
            return_event_as_response_payload=data.get("returnEventAsResponsePayload"),
        )
        return _described(updated)

    @extend_schema(
        tags=TAGS, operation_id="delete_webhook", responses={200: WebhookResponse}, summary="Delete a webhook"
    )
    def delete(self, request: Request, name: str) -> Response:
        return _described(webhooks.delete_webhook(name))


class WebhookDeliveryView(APIView):
    """POST a delivery: authenticated by the webhook itself, never by an API token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookDeliveryThrottle]

    @extend_schema(
        tags=TAGS,
        operation_id="deliver_to_webhook",
        request={"application/json": dict},
        responses={200: DeliveryResponse, 204: None, 403: MessageResponse},
        auth=[],
        summary="Receive a delivery (public: the webhook's own basic auth, API key or HMAC signature)",
    )
    def post(self, request: Request, name: str, tenant: str = webhooks.TENANT) -> Response:
        if tenant != webhooks.TENANT:
            raise WebhookNotFound(name)
        try:
            body = request.body
        except RequestDataTooBig:
            raise PayloadTooLarge("the delivery is larger than the server accepts") from None
        headers = {key.lower(): value for key, value in request.headers.items()}
        delivery = webhooks.Delivery(headers, body, request.content_type or "")
        webhook, event = webhooks.receive(name, delivery)
        if not webhook.return_event_as_response_payload:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"message": "ok", "event": webhooks.event_json(event, webhook.name)})


@extend_schema(exclude=True)
class HatchetWebhookDeliveryView(WebhookDeliveryView):
    """Hatchet's delivery address (`/api/v1/stable/tenants/{tenant}/webhooks/{name}`), for webhooks set up for
    Hatchet; documented once, under /sfp/api."""
