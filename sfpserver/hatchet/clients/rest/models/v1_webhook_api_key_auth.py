"""API-key authentication of an incoming webhook (Hatchet's `V1WebhookAPIKeyAuth`)."""

from __future__ import annotations

from pydantic import BaseModel


class V1WebhookAPIKeyAuth(BaseModel):
    header_name: str
    api_key: str
