"""Hatchet's `v1_webhook` at its module path."""

from sfpserver.hatchet.rest_models import V1Webhook

__all__ = ["V1Webhook"]
