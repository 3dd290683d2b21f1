"""Hatchet's `V1WebhookHMACEncoding` (`hatchet_sdk.clients.rest.models.v1_webhook_hmac_encoding`)."""

from __future__ import annotations

from enum import Enum


class V1WebhookHMACEncoding(str, Enum):
    HEX = "HEX"
    BASE64 = "BASE64"
    BASE64URL = "BASE64URL"
