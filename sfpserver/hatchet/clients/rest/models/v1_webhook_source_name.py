"""Hatchet's `V1WebhookSourceName` (`hatchet_sdk.clients.rest.models.v1_webhook_source_name`)."""

from __future__ import annotations

from enum import Enum


class V1WebhookSourceName(str, Enum):
    GENERIC = "GENERIC"
    GITHUB = "GITHUB"
    STRIPE = "STRIPE"
    SLACK = "SLACK"
    LINEAR = "LINEAR"
    SVIX = "SVIX"
