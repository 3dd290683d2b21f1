"""Hatchet's `V1WebhookHMACAlgorithm` (`hatchet_sdk.clients.rest.models.v1_webhook_hmac_algorithm`)."""

from __future__ import annotations

from enum import Enum


class V1WebhookHMACAlgorithm(str, Enum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"
