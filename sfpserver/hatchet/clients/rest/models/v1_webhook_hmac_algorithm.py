"""Hatchet's `v1_webhook_hmac_algorithm` at its module path."""

from sfpserver.hatchet.rest_models import V1WebhookHMACAlgorithm

__all__ = ["V1WebhookHMACAlgorithm"]
