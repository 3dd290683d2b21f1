"""Hatchet's `v1_webhook_api_key_auth` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookAPIKeyAuth

__all__ = ["V1WebhookAPIKeyAuth"]
