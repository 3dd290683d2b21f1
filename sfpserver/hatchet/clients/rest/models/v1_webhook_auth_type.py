"""Hatchet's `v1_webhook_auth_type` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookAuthType

__all__ = ["V1WebhookAuthType"]
