"""Hatchet's `V1WebhookAuthType` (`hatchet_sdk.clients.rest.models.v1_webhook_auth_type`)."""

from __future__ import annotations

from enum import Enum


class V1WebhookAuthType(str, Enum):
    BASIC = "BASIC"
    API_KEY = "API_KEY"
    HMAC = "HMAC"
