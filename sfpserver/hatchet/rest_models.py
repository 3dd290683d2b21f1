"""Hatchet's REST model types for webhooks and event filters (`hatchet_sdk.clients.rest.models.v1_webhook*`,
`v1_filter*`), with the same field names and camelCase aliases. `sfpserver.hatchet.clients.rest.models.<module>`
re-exports each under Hatchet's module path. None of them carries a webhook's secret back out: `V1Webhook`
names the authentication type only; the `*Auth` types are input only.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, validate_assignment=True, protected_namespaces=())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def from_dict(cls, obj: dict[str, Any] | None) -> Any:
        return None if obj is None else cls.model_validate(obj)


class APIResourceMeta(_Model):
    id: str
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class PaginationResponse(_Model):
    current_page: int | None = None
    next_page: int | None = None
    num_pages: int | None = None


class V1WebhookSourceName(str, Enum):
    GENERIC = "GENERIC"
    GITHUB = "GITHUB"
    STRIPE = "STRIPE"
    SLACK = "SLACK"
    LINEAR = "LINEAR"
    SVIX = "SVIX"


class V1WebhookAuthType(str, Enum):
    BASIC = "BASIC"
    API_KEY = "API_KEY"
    HMAC = "HMAC"


class V1WebhookHMACAlgorithm(str, Enum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"


class V1WebhookHMACEncoding(str, Enum):
    HEX = "HEX"
    BASE64 = "BASE64"
    BASE64URL = "BASE64URL"


class V1WebhookBasicAuth(_Model):
    username: str
    password: str = Field(repr=False)


class V1WebhookAPIKeyAuth(_Model):
    header_name: str = Field(alias="headerName")
    api_key: str = Field(alias="apiKey", repr=False)


class V1WebhookHMACAuth(_Model):
    algorithm: V1WebhookHMACAlgorithm
    encoding: V1WebhookHMACEncoding
    signature_header_name: str = Field(alias="signatureHeaderName")
    signing_secret: str = Field(alias="signingSecret", repr=False)


class V1Webhook(_Model):
    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    name: str
    source_name: V1WebhookSourceName = Field(alias="sourceName")
    event_key_expression: str = Field(alias="eventKeyExpression")
    scope_expression: str | None = Field(default=None, alias="scopeExpression")
    static_payload: dict[str, Any] | None = Field(default=None, alias="staticPayload")
    auth_type: V1WebhookAuthType = Field(alias="authType")
    return_event_as_response_payload: bool | None = Field(default=None, alias="returnEventAsResponsePayload")


class V1WebhookList(_Model):
    pagination: PaginationResponse | None = None
    rows: list[V1Webhook] | None = None


class V1UpdateWebhookRequest(_Model):
    event_key_expression: str | None = Field(default=None, alias="eventKeyExpression")
    scope_expression: str | None = Field(default=None, alias="scopeExpression")
    static_payload: dict[str, Any] | None = Field(default=None, alias="staticPayload")
    return_event_as_response_payload: bool | None = Field(default=None, alias="returnEventAsResponsePayload")


class V1Filter(_Model):
    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    workflow_id: str = Field(alias="workflowId")
    scope: str
    expression: str
    payload: dict[str, Any]
    is_declarative: bool | None = Field(default=None, alias="isDeclarative")


class V1FilterList(_Model):
    pagination: PaginationResponse | None = None
    rows: list[V1Filter] | None = None


class V1CreateFilterRequest(_Model):
    workflow_id: str = Field(alias="workflowId")
    expression: str
    scope: str
    payload: dict[str, Any] | None = None


class V1UpdateFilterRequest(_Model):
    expression: str | None = None
    scope: str | None = None
    payload: dict[str, Any] | None = None
