"""Hatchet's `v1_update_webhook_request` at its module path."""

from sfpserver.hatchet.rest_models import V1UpdateWebhookRequest

__all__ = ["V1UpdateWebhookRequest"]
