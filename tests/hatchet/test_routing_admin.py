"""Webhooks and event filters in the admin: a webhook's secret is set through a password field, sealed, and
never shown; the fields its authentication needs are checked as the API checks them; filters are refused
with the API's reasons; rotating the vault keys re-seals webhook secrets."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from sfpserver.hatchet import webhooks
from sfpserver.hatchet.models import EventFilter, Webhook
from sfpserver.vault import keys

pytestmark = pytest.mark.usefixtures("db_access")

SECRET = f"admin-hook-{uuid4().hex}"


@pytest.fixture
def admin() -> Iterator[Client]:
    user = User.objects.create_superuser(f"admin-{uuid4().hex[:8]}", "a@example.com", uuid4().hex)
    client = Client()
    client.force_login(user)
    yield client
    user.delete()


def hook_form(name: str, **change: str) -> dict[str, str]:
    return {
        "name": name,
        "source_name": "GENERIC",
        "event_key_expression": "'k:' + input.type",
        "scope_expression": "",
        "static_payload": "null",
        "auth_type": "HMAC",
        "hmac_algorithm": "SHA256",
        "hmac_encoding": "HEX",
        "hmac_signature_header_name": "X-Sig",
        "new_secret": SECRET,
        **change,
    }


def test_a_webhook_added_in_the_admin_has_its_secret_sealed_and_never_shown(admin: Client) -> None:
    name = f"admin-{uuid4().hex[:8]}"
    response = admin.post("/admin/hatchet/webhook/add/", hook_form(name))
    assert response.status_code == 302, response.content.decode()[:2000]
    row = Webhook.objects.get(name=name)
    pages = [
        admin.get("/admin/hatchet/webhook/").content,
        admin.get(f"/admin/hatchet/webhook/{row.pk}/change/").content,
    ]
    assert not any(SECRET.encode() in page for page in pages)
    body = b'{"type": "x"}'
    delivery = webhooks.Delivery({"x-sig": webhooks.signature(body, SECRET, "SHA256", "HEX")}, body)
    webhooks.authenticate(row, delivery)  # the sealed secret is the one typed in
    row.delete()


def test_an_hmac_webhook_without_its_algorithm_is_refused_naming_the_field(admin: Client) -> None:
    name = f"admin-{uuid4().hex[:8]}"
    response = admin.post("/admin/hatchet/webhook/add/", hook_form(name, hmac_algorithm=""))
    assert response.status_code == 200
    assert "must be one of SHA1, SHA256, SHA512, MD5" in response.content.decode()
    assert not Webhook.objects.filter(name=name).exists()


def test_a_filter_with_a_bad_expression_is_refused_in_the_admin(admin: Client) -> None:
    scope = f"admin-{uuid4().hex[:8]}"
    form = {"workflow_name": "any", "scope": scope, "expression": "input.x ==", "payload": "{}"}
    response = admin.post("/admin/hatchet/eventfilter/add/", form)
    assert "cannot parse expression" in response.content.decode()
    assert not EventFilter.objects.filter(scope=scope).exists()
    ok = admin.post("/admin/hatchet/eventfilter/add/", {**form, "expression": "input.x == 1"})
    assert ok.status_code == 302
    EventFilter.objects.filter(scope=scope).delete()


def test_rotating_the_vault_keys_re_seals_webhook_secrets(settings: Any) -> None:
    session = settings.VAULT_KEYS
    old, new = keys.new_key_entry("hook-old"), keys.new_key_entry("hook-new")
    settings.VAULT_KEYS = old
    name = f"rotated-{uuid4().hex[:8]}"
    webhooks.create_webhook(
        source_name="GENERIC",
        name=name,
        event_key_expression="'k'",
        auth_type="API_KEY",
        auth={"headerName": "X-Key", "apiKey": SECRET},
    )
    settings.VAULT_KEYS = f"{new},{old},{session}"
    out = io.StringIO()
    call_command("rotate_vault_keys", stdout=out)
    assert "re-sealed 1 webhook secret(s) under key 'hook-new'" in out.getvalue()
    settings.VAULT_KEYS = new  # the old key is gone: the webhook still checks its key
    webhooks.authenticate(Webhook.objects.get(name=name), webhooks.Delivery({"x-key": SECRET}, b"{}"))
    Webhook.objects.filter(name=name).delete()
    # Everything else in the vault (other tests' credentials) goes back under the key the worker processes know.
    settings.VAULT_KEYS = f"{session},{new}"
    call_command("rotate_vault_keys", stdout=io.StringIO())
