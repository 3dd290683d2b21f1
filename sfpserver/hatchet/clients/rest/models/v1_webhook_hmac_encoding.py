"""Hatchet's `v1_webhook_hmac_encoding` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookHMACEncoding

__all__ = ["V1WebhookHMACEncoding"]
