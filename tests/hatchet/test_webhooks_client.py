"""`hatchet.webhooks`, as Hatchet's examples drive it: Hatchet's model types from their module paths, every
method with its `aio_` twin, and an update that keeps what it does not name."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from uuid import uuid4

import pytest

from sfpserver.hatchet import Hatchet
from sfpserver.hatchet.clients.rest.models.v1_webhook import V1Webhook
from sfpserver.hatchet.clients.rest.models.v1_webhook_api_key_auth import V1WebhookAPIKeyAuth
from sfpserver.hatchet.clients.rest.models.v1_webhook_basic_auth import V1WebhookBasicAuth
from sfpserver.hatchet.clients.rest.models.v1_webhook_hmac_algorithm import V1WebhookHMACAlgorithm
from sfpserver.hatchet.clients.rest.models.v1_webhook_hmac_auth import V1WebhookHMACAuth
from sfpserver.hatchet.clients.rest.models.v1_webhook_hmac_encoding import V1WebhookHMACEncoding
from sfpserver.hatchet.clients.rest.models.v1_webhook_source_name import V1WebhookSourceName
from sfpserver.hatchet.event_errors import InvalidRoutingInput, WebhookNotFound
from sfpserver.hatchet.models import Webhook

pytestmark = pytest.mark.usefixtures("db_access")

hatchet = Hatchet()


@pytest.fixture
def name() -> Iterator[str]:
    value = f"sdk-hook-{uuid4().hex[:10]}"
    yield value
    Webhook.objects.filter(name=value).delete()


def test_create_get_list_update_and_delete_return_hatchets_models(name: str) -> None:
    created = hatchet.webhooks.create(
        source_name=V1WebhookSourceName.GITHUB,
        name=name,
        event_key_expression="'github:' + headers['x-github-event']",
        auth=V1WebhookHMACAuth(
            algorithm=V1WebhookHMACAlgorithm.SHA256,
            encoding=V1WebhookHMACEncoding.HEX,
            signatureHeaderName="X-Hub-Signature-256",
            signingSecret="not-shown",
        ),
        scope_expression="input.repository.full_name",
    )
    assert isinstance(created, V1Webhook)
    assert (created.auth_type.value, created.source_name, created.tenant_id) == (
        "HMAC",
        V1WebhookSourceName.GITHUB,
        "default",
    )
    assert "not-shown" not in created.model_dump_json()
    assert hatchet.webhooks.get(name) == created
    assert [w.name for w in hatchet.webhooks.list(webhook_names=[name]).rows or []] == [name]
    updated = hatchet.webhooks.update(name, scope_expression="input.sender.login", static_payload={"team": "core"})
    assert (updated.scope_expression, updated.event_key_expression, updated.static_payload) == (
        "input.sender.login",
        created.event_key_expression,
        {"team": "core"},
    )
    assert hatchet.webhooks.delete(name).name == name
    with pytest.raises(WebhookNotFound):
        hatchet.webhooks.get(name)


def test_every_method_has_an_async_twin(name: str) -> None:
    async def roundtrip() -> tuple[object, ...]:
        made = await hatchet.webhooks.aio_create(
            V1WebhookSourceName.GENERIC, name, "input.kind", V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k")
        )
        got = await hatchet.webhooks.aio_get(name)
        listed = await hatchet.webhooks.aio_list(source_names=[V1WebhookSourceName.GENERIC], webhook_names=[name])
        changed = await hatchet.webhooks.aio_update(name, return_event_as_response_payload=False)
        gone = await hatchet.webhooks.aio_delete(name)
        return made == got, len(listed.rows or []), changed.return_event_as_response_payload, gone.name

    assert asyncio.run(roundtrip()) == (True, 1, False, name)


def test_a_bad_expression_is_refused_naming_the_field_and_nothing_is_stored(name: str) -> None:
    with pytest.raises(InvalidRoutingInput) as caught:
        hatchet.webhooks.create(
            V1WebhookSourceName.GENERIC, name, "input.type ==", V1WebhookBasicAuth(username="u", password="p")
        )
    assert (caught.value.field, caught.value.problem) == (
        "eventKeyExpression",
        "cannot parse expression 'input.type =='",
    )
    assert not Webhook.objects.filter(name=name).exists()
