"""The admin: credentials are set and replaced through a password field and never shown again; the audit
is read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sfpserver.vault import services
from sfpserver.vault.models import Credential, CredentialAudit
from tests.vault.conftest import SFDX_META, SFDX_URL, unique

pytestmark = pytest.mark.usefixtures("db_access")

SECRET = "admin-canary-" + unique("value")


@pytest.fixture
def owner() -> Iterator[Client]:
    user = User.objects.create_superuser(unique("owner"), "owner@example.com", unique("pw"))
    client = Client()
    client.force_login(user)
    yield client
    user.delete()


def add(client: Client, name: str, kind: str, secret: str, metadata: dict[str, object] | None = None) -> str:
    response = client.post(
        "/admin/vault/credential/add/",
        {"name": name, "kind": kind, "secret": secret, "metadata": json.dumps(metadata or {}), "_save": "Save"},
    )
    return response.content.decode() if response.status_code == 200 else ""


def test_an_owner_adds_a_credential_and_never_sees_its_value_again(owner: Client) -> None:
    name = unique("gen")
    assert add(owner, name, "generic", SECRET, {"team": "release"}) == ""
    credential = Credential.objects.get(name=name)
    assert credential.created_by.startswith("admin:owner-")
    pages = [
        owner.get("/admin/vault/credential/").content.decode(),
        owner.get(f"/admin/vault/credential/{credential.pk}/change/").content.decode(),
        owner.get(f"/admin/vault/credential/{credential.pk}/history/").content.decode(),
    ]
    assert credential.fingerprint in pages[0] and name in pages[0]
    assert not any(SECRET in page for page in pages)
    assert not any(bytes(credential.ciphertext).hex() in page for page in pages)


def test_an_owner_replaces_a_value_or_changes_only_the_metadata(owner: Client) -> None:
    name = unique("sfdx")
    services.store("sfdx_auth_url", name, SFDX_URL, metadata=SFDX_META)
    credential = Credential.objects.get(name=name)
    url = f"/admin/vault/credential/{credential.pk}/change/"
    response = owner.post(url, {"secret": "", "metadata": json.dumps({**SFDX_META, "org_type": "devhub"})})
    assert response.status_code == 302
    after_metadata = Credential.objects.get(name=name)
    assert after_metadata.metadata["org_type"] == "devhub"
    assert (after_metadata.fingerprint, after_metadata.rotated_at) == (credential.fingerprint, None)
    replacement = SFDX_URL.replace("5Aep861", "5Aep862")
    assert owner.post(url, {"secret": replacement, "metadata": json.dumps(SFDX_META)}).status_code == 302
    rotated = Credential.objects.get(name=name)
    assert rotated.rotated_at is not None and rotated.fingerprint != credential.fingerprint
    actions = list(CredentialAudit.objects.filter(credential_name=name).order_by("id").values_list("action", flat=True))
    assert actions == ["CREATE", "UPDATE", "REPLACE"]


def test_the_admin_shows_where_each_credential_may_go_and_refuses_a_bad_destination(owner: Client) -> None:
    name = unique("gh")
    assert add(owner, name, "github_token", "ghp_" + "a1B2" * 10, {"allowed_hosts": ["git.acme.com"]}) == ""
    listing = owner.get("/admin/vault/credential/").content.decode()
    assert '<td class="field-destinations">git.acme.com</td>' in listing
    refused = add(owner, unique("npm"), "npm_token", "npm_" + "a1B2" * 10, {"registry": "http://npm.acme.com"})
    assert (
        "metadata.registry: must be an https:// registry URL" in refused
        or "must be an https:// registry URL" in refused
    )


def test_an_invalid_value_is_refused_on_its_field_without_echoing_it(owner: Client) -> None:
    name = unique("sfdx")
    page = add(owner, name, "sfdx_auth_url", SECRET, SFDX_META)
    assert "an SFDX auth URL must look like" in page
    assert SECRET not in page
    assert not Credential.objects.filter(name=name).exists()


def test_deleting_through_the_admin_goes_through_the_vault(owner: Client) -> None:
    name = unique("gen")
    services.store("generic", name, SECRET)
    pk = Credential.objects.get(name=name).pk
    assert owner.post(f"/admin/vault/credential/{pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Credential.objects.filter(name=name).exists()
    assert CredentialAudit.objects.filter(credential_name=name, action="DELETE").exists()


def test_the_audit_is_read_only(owner: Client) -> None:
    name = unique("gen")
    services.store("generic", name, SECRET)
    audit = CredentialAudit.objects.filter(credential_name=name).get()
    assert owner.get("/admin/vault/credentialaudit/add/").status_code == 403
    assert owner.get("/admin/vault/credentialaudit/").status_code == 200
    assert owner.post(f"/admin/vault/credentialaudit/{audit.pk}/change/", {"reason": "edited"}).status_code == 403
    assert owner.post(f"/admin/vault/credentialaudit/{audit.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CredentialAudit.objects.get(pk=audit.pk).reason == ""
