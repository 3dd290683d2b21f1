"""Storing credentials: validation that names the field, write-only descriptions, encryption at rest."""

from __future__ import annotations

import hashlib
import json
import pickle

import pytest
from django.db import connection

from sfpserver.vault import services
from sfpserver.vault.exceptions import CredentialMissing, CredentialUnreadable, InvalidCredential, LeaseRefused
from sfpserver.vault.models import AuditAction, Credential, CredentialAudit
from tests.vault.conftest import SFDX_META, SFDX_URL, unique

pytestmark = pytest.mark.usefixtures("db_access")


def test_an_sfdx_auth_url_is_stored_with_its_org_metadata() -> None:
    name = unique("sfdx")
    credential = services.store("sfdx_auth_url", name, SFDX_URL + "\n", metadata=SFDX_META, actor="owner")
    assert credential.kind == "sfdx_auth_url"
    assert credential.metadata == {
        "username": "ci@acme.com",
        "org_type": "production",
        "is_devhub": True,
        "instance_url": "https://acme.my.salesforce.com",
    }
    assert credential.created_by == "owner"
    assert credential.rotated_at is None


def test_describe_shows_everything_but_the_secret() -> None:
    name = unique("gh")
    token = "ghp_" + "a1B2c3D4e5" * 4
    services.store("github_token", name, token, metadata={"owner": "acme"})
    described = services.describe(name)
    assert set(described) == {"kind", "name", "fingerprint", "metadata", "created_at", "rotated_at", "last_used_at"}
    assert described["kind"] == "github_token"
    assert described["metadata"] == {"owner": "acme", "token_type": "pat", "allowed_hosts": ["github.com"]}
    assert len(described["fingerprint"]) == 12
    assert described["fingerprint"] != hashlib.sha256(token.encode()).hexdigest()[:12]  # keyed, not a plain hash
    assert token not in repr(described)


def test_list_never_contains_a_secret() -> None:
    secrets = {unique("npm"): "npm_" + unique("tok").replace("-", ""), unique("gen"): "generic " + unique("value")}
    for name, secret in secrets.items():
        kind = "npm_token" if name.startswith("npm") else "generic"
        services.store(kind, name, secret)
    listed = services.list_credentials()
    assert set(secrets) <= {item["name"] for item in listed}
    text = json.dumps(listed, default=str)
    assert not any(secret in text for secret in secrets.values())


def test_the_secret_is_encrypted_at_rest() -> None:
    name, secret = unique("gen"), "plain-" + unique("canary")
    services.store("generic", name, secret)
    with connection.cursor() as cursor:
        cursor.execute("SELECT c::text, encode(c.ciphertext, 'escape') FROM vault_credential c WHERE name = %s", [name])
        row_text, raw = cursor.fetchone()
    assert secret not in row_text and secret not in raw
    assert Credential.objects.get(name=name).key_id == "test"


def test_replacing_a_credential_rotates_its_value_and_keeps_its_creation_time() -> None:
    name = unique("gen")
    first = services.store("generic", name, "first value")
    second = services.store("generic", name, "second value", actor="member")
    assert second.pk == first.pk
    assert second.created_at == first.created_at
    assert second.rotated_at is not None and second.rotated_by == "member"
    assert second.fingerprint != first.fingerprint
    actions = list(CredentialAudit.objects.filter(credential_name=name).order_by("id").values_list("action", "actor"))
    assert actions == [(AuditAction.CREATE, ""), (AuditAction.REPLACE, "member")]


def test_equal_values_have_equal_fingerprints() -> None:
    a, b = unique("gen"), unique("gen")
    assert services.store("generic", a, "same").fingerprint == services.store("generic", b, "same").fingerprint


def test_deleting_a_credential_is_audited_and_reports_whether_it_existed() -> None:
    name = unique("gen")
    services.store("generic", name, "to delete")
    assert services.delete(name, actor="owner") is True
    assert services.delete(name) is False
    with pytest.raises(CredentialMissing) as raised:
        services.describe(name)
    assert str(raised.value) == f"credential {name!r} does not exist in the vault"
    assert CredentialAudit.objects.filter(credential_name=name, action=AuditAction.DELETE, actor="owner").count() == 1


@pytest.mark.parametrize(
    ("kind", "secret", "metadata", "field"),
    [
        ("sfdx_auth_url", "https://user:Sup3rS3cret@acme.my.salesforce.com", SFDX_META, "secret"),
        ("sfdx_auth_url", "force://PlatformCLI::Sup3rS3cretRefresh", SFDX_META, "secret"),
        ("sfdx_auth_url", SFDX_URL, {"org_type": "sandbox"}, "metadata.username"),
        ("sfdx_auth_url", SFDX_URL, {"username": "a@b.c", "org_type": "test"}, "metadata.org_type"),
        (
            "sfdx_auth_url",
            SFDX_URL,
            {"username": "a@b.c", "org_type": "scratch", "is_devhub": True},
            "metadata.is_devhub",
        ),
        ("sfdx_auth_url", SFDX_URL, {**SFDX_META, "instance_url": "http://x"}, "metadata.instance_url"),
        ("github_token", "Sup3rS3cret-not-a-token", None, "secret"),
        ("npm_token", "Sup3r S3cret", None, "secret"),
        ("package_install_key", "Sup3r\nS3cret", None, "secret"),
        ("generic", "", None, "secret"),
        ("ssh_key", "Sup3rS3cret", None, "kind"),
        ("generic", "Sup3rS3cret", {"note": "the value is Sup3rS3cret"}, "metadata"),
        ("generic", "Sup3rS3cret", ["not", "a", "mapping"], "metadata"),
        ("sfdx_auth_url", SFDX_URL, {**SFDX_META, "instance_url": "https://other.example"}, "metadata.instance_url"),
        ("github_token", "ghp_" + "Sup3r" * 8, {"allowed_hosts": "github.com"}, "metadata.allowed_hosts"),
        ("github_token", "ghp_" + "Sup3r" * 8, {"allowed_hosts": []}, "metadata.allowed_hosts"),
        ("github_token", "ghp_" + "Sup3r" * 8, {"allowed_hosts": ["https://github.com"]}, "metadata.allowed_hosts"),
        ("github_token", "ghp_" + "Sup3r" * 8, {"allowed_hosts": ["*.github.com"]}, "metadata.allowed_hosts"),
        ("generic", "Sup3rS3cret", {"allowed_hosts": ["github.com/acme"]}, "metadata.allowed_hosts"),
        ("npm_token", "npm_Sup3rS3cret", {"registry": "http://registry.npmjs.org"}, "metadata.registry"),
        ("npm_token", "npm_Sup3rS3cret", {"registry": "https://bot:pw@npm.acme.com"}, "metadata.registry"),
        ("npm_token", "npm_Sup3rS3cret", {"registry": "registry.npmjs.org"}, "metadata.registry"),
    ],
)
def test_an_invalid_credential_is_refused_naming_the_field_but_not_the_value(
    kind: str, secret: str, metadata: object, field: str
) -> None:
    name = unique("bad")
    with pytest.raises(InvalidCredential) as raised:
        services.store(kind, name, secret, metadata=metadata)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert "Sup3r" not in str(raised.value)
    assert not Credential.objects.filter(name=name).exists()


def test_each_kind_is_stored_with_the_destinations_it_may_reach() -> None:
    names = {kind: unique(kind.replace("_", "-")) for kind in ("github_token", "npm_token", "generic")}
    services.store("github_token", names["github_token"], "ghp_" + "a1B2c3D4e5" * 4)
    services.store(
        "npm_token", names["npm_token"], "npm_" + "a1B2c3D4e5" * 4, metadata={"registry": "https://NPM.acme.com/r/"}
    )
    services.store("generic", names["generic"], "key", metadata={"allowed_hosts": ["GitHub.com", "git.acme.com:2222"]})
    assert [Credential.objects.get(name=names[kind]).metadata for kind in names] == [
        {"token_type": "pat", "allowed_hosts": ["github.com"]},
        {"registry": "https://npm.acme.com/r"},
        {"allowed_hosts": ["github.com", "git.acme.com:2222"]},
    ]


def test_a_credential_stored_before_destinations_is_described_with_the_defaults_it_is_held_to() -> None:
    name = unique("gh-old")
    services.store("github_token", name, "ghp_" + "a1B2c3D4e5" * 4)
    Credential.objects.filter(name=name).update(metadata={"token_type": "pat"})  # as an older server stored it
    assert services.describe(name)["metadata"] == {"token_type": "pat", "allowed_hosts": ["github.com"]}


def test_a_credential_name_must_be_plain() -> None:
    with pytest.raises(InvalidCredential) as raised:
        services.store("generic", "has space", "value")
    assert raised.value.field == "name"


@pytest.mark.parametrize(
    "error",
    [
        InvalidCredential("metadata.username", "is required"),
        CredentialMissing("prod-org"),
        CredentialUnreadable("prod-org", "its key 'k0' is not among the configured vault keys"),
        LeaseRefused("step 'deploy' is COMPLETED, not RUNNING"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_vault_error_survives_pickling_with_its_message(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), vars(copy)) == (type(error), str(error), vars(error))
