"""Hatchet's `v1_webhook_list` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookList

__all__ = ["V1WebhookList"]
