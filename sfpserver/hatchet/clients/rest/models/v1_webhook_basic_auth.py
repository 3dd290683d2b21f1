"""Basic authentication of an incoming webhook (Hatchet's `V1WebhookBasicAuth`)."""

from __future__ import annotations

from pydantic import BaseModel


class V1WebhookBasicAuth(BaseModel):
    username: str
    password: str
