"""Hatchet's `v1_webhook_hmac_auth` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookHMACAuth

__all__ = ["V1WebhookHMACAuth"]
