"""`hatchet.webhooks` and `hatchet.filters`: Hatchet's feature clients, with its signatures and return types
(`V1Webhook`, `V1WebhookList`, `V1Filter`, `V1FilterList`), and an `aio_` twin for every method.

They call the domain modules (`webhooks`, `eventfilters`) in-process, as the other feature clients call the
engine: no REST round trip. Errors are the domain's (`sfpserver.hatchet.event_errors`, ValueError/LookupError
subclasses naming the field at fault).
"""

from __future__ import annotations

import builtins
from typing import Any

from sfpserver.hatchet import eventfilters, webhooks
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.models import EventFilter
from sfpserver.hatchet.rest_models import (
    V1Filter,
    V1FilterList,
    V1UpdateFilterRequest,
    V1Webhook,
    V1WebhookAPIKeyAuth,
    V1WebhookAuthType,
    V1WebhookBasicAuth,
    V1WebhookHMACAuth,
    V1WebhookList,
    V1WebhookSourceName,
)

AuthModel = V1WebhookBasicAuth | V1WebhookAPIKeyAuth | V1WebhookHMACAuth


def _webhook(row: Any) -> V1Webhook:
    return V1Webhook.model_validate(webhooks.describe(row))


def _auth_type(auth: AuthModel) -> V1WebhookAuthType:
    if isinstance(auth, V1WebhookBasicAuth):
        return V1WebhookAuthType.BASIC
    if isinstance(auth, V1WebhookAPIKeyAuth):
        return V1WebhookAuthType.API_KEY
    if isinstance(auth, V1WebhookHMACAuth):
        return V1WebhookAuthType.HMAC
    raise TypeError("auth must be a V1WebhookBasicAuth, V1WebhookAPIKeyAuth or V1WebhookHMACAuth")


class WebhooksClient:
    def list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        webhook_names: builtins.list[str] | None = None,
        source_names: builtins.list[V1WebhookSourceName] | None = None,
    ) -> V1WebhookList:
        rows = run_db(lambda: webhooks.list_webhooks(limit, offset, webhook_names, source_names))
        return V1WebhookList(rows=[_webhook(r) for r in rows])

    async def aio_list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        webhook_names: builtins.list[str] | None = None,
        source_names: builtins.list[V1WebhookSourceName] | None = None,
    ) -> V1WebhookList:
        return await aio_db(lambda: self.list(limit, offset, webhook_names, source_names))

    def get(self, webhook_name: str) -> V1Webhook:
        return _webhook(run_db(lambda: webhooks.get_webhook(webhook_name)))

    async def aio_get(self, webhook_name: str) -> V1Webhook:
        return await aio_db(lambda: self.get(webhook_name))

    def create(
        self,
        source_name: V1WebhookSourceName,
        name: str,
        event_key_expression: str,
        auth: AuthModel,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool = True,
    ) -> V1Webhook:
        row = run_db(
            lambda: webhooks.create_webhook(
                source_name=source_name,
                name=name,
                event_key_expression=event_key_expression,
                auth_type=_auth_type(auth),
                auth=auth.model_dump(by_alias=True),
                scope_expression=scope_expression,
                static_payload=static_payload,
                return_event_as_response_payload=return_event_as_response_payload,
            )
        )
        return _webhook(row)

    async def aio_create(
        self,
        source_name: V1WebhookSourceName,
        name: str,
        event_key_expression: str,
        auth: AuthModel,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool = True,
    ) -> V1Webhook:
        return await aio_db(
            lambda: self.create(
                source_name,
                name,
                event_key_expression,
                auth,
                scope_expression,
                static_payload,
                return_event_as_response_payload,
            )
        )

    def update(
        self,
        webhook_name: str,
        event_key_expression: str | None = None,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool | None = None,
    ) -> V1Webhook:
        row = run_db(
            lambda: webhooks.update_webhook(
                webhook_name,
                event_key_expression=event_key_expression,
                scope_expression=scope_expression,
                static_payload=static_payload,
                return_event_as_response_payload=return_event_as_response_payload,
            )
        )
        return _webhook(row)

    async def aio_update(
        self,
        webhook_name: str,
        event_key_expression: str | None = None,
        scope_expression: str | None = None,
        static_payload: dict[str, Any] | None = None,
        return_event_as_response_payload: bool | None = None,
    ) -> V1Webhook:
        return await aio_db(
            lambda: self.update(
                webhook_name, event_key_expression, scope_expression, static_payload, return_event_as_response_payload
            )
        )

    def delete(self, webhook_name: str) -> V1Webhook:
        return _webhook(run_db(lambda: webhooks.delete_webhook(webhook_name)))

    async def aio_delete(self, webhook_name: str) -> V1Webhook:
        return await aio_db(lambda: self.delete(webhook_name))


def filter_view(row: EventFilter) -> V1Filter:
    return V1Filter.model_validate(describe_filter(row))


def describe_filter(row: EventFilter) -> dict[str, Any]:
    """Hatchet's V1Filter as JSON."""
    return {
        "metadata": {"id": str(row.id), "createdAt": row.created_at, "updatedAt": row.updated_at},
        "tenantId": webhooks.TENANT,
        "workflowId": row.workflow_name,
        "scope": row.scope,
        "expression": row.expression,
        "payload": row.payload,
        "isDeclarative": row.is_declarative,
    }


class FiltersClient:
    def list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        workflow_ids: builtins.list[str] | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> V1FilterList:
        rows = run_db(lambda: eventfilters.list_filters(limit, offset, workflow_ids, scopes))
        return V1FilterList(rows=[filter_view(r) for r in rows])

    async def aio_list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        workflow_ids: builtins.list[str] | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> V1FilterList:
        return await aio_db(lambda: self.list(limit, offset, workflow_ids, scopes))

    def get(self, filter_id: str) -> V1Filter:
        return filter_view(run_db(lambda: eventfilters.get_filter(filter_id)))

    async def aio_get(self, filter_id: str) -> V1Filter:
        return await aio_db(lambda: self.get(filter_id))

    def create(self, workflow_id: str, expression: str, scope: str, payload: dict[str, Any] | None = None) -> V1Filter:
        return filter_view(run_db(lambda: eventfilters.create_filter(workflow_id, expression, scope, payload)))

    async def aio_create(
        self, workflow_id: str, expression: str, scope: str, payload: dict[str, Any] | None = None
    ) -> V1Filter:
        return await aio_db(lambda: self.create(workflow_id, expression, scope, payload))

    def delete(self, filter_id: str) -> V1Filter:
        return filter_view(run_db(lambda: eventfilters.delete_filter(filter_id)))

    async def aio_delete(self, filter_id: str) -> V1Filter:
        return await aio_db(lambda: self.delete(filter_id))

    def update(self, filter_id: str, updates: V1UpdateFilterRequest) -> V1Filter:
        row = run_db(lambda: eventfilters.update_filter(filter_id, updates.expression, updates.scope, updates.payload))
        return filter_view(row)

    async def aio_update(self, filter_id: str, updates: V1UpdateFilterRequest) -> V1Filter:
        return await aio_db(lambda: self.update(filter_id, updates))
