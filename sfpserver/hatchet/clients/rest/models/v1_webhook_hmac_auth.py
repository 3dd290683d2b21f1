"""HMAC signature authentication of an incoming webhook (Hatchet's `V1WebhookHMACAuth`)."""

from __future__ import annotations

from pydantic import BaseModel

from sfpserver.hatchet.clients.rest.models.v1_webhook_hmac_algorithm import V1WebhookHMACAlgorithm
from sfpserver.hatchet.clients.rest.models.v1_webhook_hmac_encoding import V1WebhookHMACEncoding


class V1WebhookHMACAuth(BaseModel):
    algorithm: V1WebhookHMACAlgorithm
    encoding: V1WebhookHMACEncoding
    signature_header_name: str
    signing_secret: str
