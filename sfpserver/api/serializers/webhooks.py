"""Incoming webhooks (Hatchet's V1Webhook shapes, camelCase): requests carry the secret in `auth`; no response
does (`authType` names the kind of authentication only)."""

from __future__ import annotations

from rest_framework import serializers

from sfpserver.api.serializers.common import ChoiceField, StrictSerializer
from sfpserver.hatchet.models import WebhookAuthType


class WebhookCreateRequest(StrictSerializer):
    name = serializers.CharField(trim_whitespace=False, help_text="1-200 letters, digits, '.', '_', ':' or '-'")
    sourceName = serializers.CharField(help_text="GENERIC, GITHUB or LINEAR")
    eventKeyExpression = serializers.CharField(
        trim_whitespace=False, help_text="CEL over `input` (the body) and `headers`: the event's key"
    )
    scopeExpression = serializers.CharField(
        required=False, allow_null=True, trim_whitespace=False, help_text="CEL: the event's scope (filters)"
    )
    staticPayload = serializers.DictField(required=False, allow_null=True, help_text="merged over every body")
    authType = ChoiceField(WebhookAuthType.values)
    auth = serializers.DictField(
        help_text="BASIC: username, password; API_KEY: headerName, apiKey; HMAC: algorithm (SHA1, SHA256, SHA512, "
        "MD5), encoding (HEX, BASE64, BASE64URL), signatureHeaderName, signingSecret. Never shown again."
    )
    returnEventAsResponsePayload = serializers.BooleanField(required=False, default=True)


class WebhookUpdateRequest(StrictSerializer):
    eventKeyExpression = serializers.CharField(required=False, trim_whitespace=False)
    scopeExpression = serializers.CharField(required=False, trim_whitespace=False)
    staticPayload = serializers.DictField(required=False)
    returnEventAsResponsePayload = serializers.BooleanField(required=False)


class ResourceMeta(serializers.Serializer):
    id = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class WebhookResponse(serializers.Serializer):
    metadata = ResourceMeta()
    tenantId = serializers.CharField()
    name = serializers.CharField()
    sourceName = serializers.CharField()
    eventKeyExpression = serializers.CharField()
    scopeExpression = serializers.CharField(allow_null=True)
    staticPayload = serializers.JSONField(allow_null=True)
    authType = serializers.CharField()
    returnEventAsResponsePayload = serializers.BooleanField()


class WebhookListResponse(serializers.Serializer):
    rows = WebhookResponse(many=True)


class DeliveryResponse(serializers.Serializer):
    message = serializers.CharField(help_text="ok")
    event = serializers.JSONField(help_text="the event the delivery became (Hatchet's V1Event)")
