"""Hatchet's `v1_webhook_basic_auth` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookBasicAuth

__all__ = ["V1WebhookBasicAuth"]
