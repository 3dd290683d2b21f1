"""A registered webhook (Hatchet's `V1Webhook`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sfpserver.hatchet.clients.rest.models.v1_webhook_auth_type import V1WebhookAuthType
from sfpserver.hatchet.clients.rest.models.v1_webhook_source_name import V1WebhookSourceName


class V1Webhook(BaseModel):
    metadata: Any
    tenant_id: str
    name: str
    source_name: V1WebhookSourceName
    event_key_expression: str
    scope_expression: str | None = None
    static_payload: dict[str, Any] | None = None
    auth_type: V1WebhookAuthType
    return_event_as_response_payload: bool | None = None
