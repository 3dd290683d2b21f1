"""Hatchet's `v1_webhook_source_name` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookSourceName

__all__ = ["V1WebhookSourceName"]
