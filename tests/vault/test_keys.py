"""Encryption keys: round trip, rotation with several keys active, the re-encrypt command, unreadable
ciphertexts, the generated local key and the configuration checks."""

from __future__ import annotations

import io
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sfpserver.engine.runtime import is_non_retryable
from sfpserver.vault import keys, services
from sfpserver.vault.checks import check_vault_keys
from sfpserver.vault.exceptions import CredentialUnreadable
from sfpserver.vault.models import Credential, CredentialAudit
from tests.vault.conftest import SFDX_META, SFDX_URL, Running, unique

# Every test here runs in a transaction that is rolled back: credentials written under test keys (or
# deliberately broken) never stay behind for other tests, whose keyring is the session's VAULT_KEYS.
pytestmark = pytest.mark.django_db

OLD = keys.new_key_entry("old")
NEW = keys.new_key_entry("new")


def lease_one(start_step: Callable[..., Running], name: str) -> str:
    step = start_step([name])
    return services.lease(step.step_id, step.attempt, step.worker_id, [name], secret=step.secret, requester="test")[
        name
    ]


def test_a_stored_secret_comes_back_unchanged_through_a_lease(start_step: Callable[..., Running]) -> None:
    name = unique("sfdx")
    services.store("sfdx_auth_url", name, SFDX_URL, metadata=SFDX_META)
    assert lease_one(start_step, name) == SFDX_URL


def test_a_generic_secret_keeps_its_exact_bytes(start_step: Callable[..., Running]) -> None:
    name, value = unique("gen"), "  multi\nline ünïcode ☃ value  "
    services.store("generic", name, value)
    assert lease_one(start_step, name) == value


def test_an_old_key_still_decrypts_after_a_new_one_is_put_first(
    settings: Any, start_step: Callable[..., Running]
) -> None:
    settings.VAULT_KEYS = OLD
    name = unique("gen")
    services.store("generic", name, "written under the old key")
    settings.VAULT_KEYS = f"{NEW},{OLD}"
    assert lease_one(start_step, name) == "written under the old key"
    services.store("generic", unique("gen"), "a new value")
    assert Credential.objects.filter(name=name).values_list("key_id", flat=True).get() == "old"


def test_the_rotate_command_re_encrypts_everything_under_the_newest_key(
    settings: Any, start_step: Callable[..., Running]
) -> None:
    session = settings.VAULT_KEYS  # other tests' credentials are under it
    settings.VAULT_KEYS = OLD
    names = [unique("gen") for _ in range(3)]
    for name in names:
        services.store("generic", name, f"value of {name}")
    settings.VAULT_KEYS = f"{NEW},{OLD},{session}"
    out = io.StringIO()
    call_command("rotate_vault_keys", stdout=out)
    reencrypted = int(out.getvalue().split()[1])
    assert reencrypted >= 3
    assert set(Credential.objects.filter(name__in=names).values_list("key_id", flat=True)) == {"new"}
    out = io.StringIO()
    call_command("rotate_vault_keys", stdout=out)
    assert out.getvalue().startswith("re-encrypted 0 credential(s) under key 'new'")
    settings.VAULT_KEYS = NEW  # the old key is gone: everything still decrypts
    assert all(lease_one(start_step, name) == f"value of {name}" for name in names)
    settings.VAULT_KEYS = f"{session},{NEW}"  # other tests' credentials back under the workers' key
    call_command("rotate_vault_keys", stdout=io.StringIO())


def test_the_rotate_command_names_what_it_cannot_decrypt(settings: Any) -> None:
    session = settings.VAULT_KEYS
    settings.VAULT_KEYS = keys.new_key_entry("lost")
    name = unique("gen")
    services.store("generic", name, "under a key that will be lost")
    settings.VAULT_KEYS = f"{NEW},{session}"
    with pytest.raises(CommandError) as raised:
        call_command("rotate_vault_keys", stdout=io.StringIO())
    assert str(raised.value).endswith(
        f"could not be decrypted with the configured keys and were left as they are: {name}"
    )


def test_a_wrong_key_makes_the_credential_unreadable_and_the_step_fail_for_good(
    settings: Any, start_step: Callable[..., Running]
) -> None:
    name = unique("gen")
    services.store("generic", name, "value")
    settings.VAULT_KEYS = keys.new_key_entry("test")  # same key id, other material
    with pytest.raises(CredentialUnreadable) as raised:
        lease_one(start_step, name)
    assert (
        str(raised.value)
        == f"credential {name!r} is unreadable: authentication failed (wrong key or altered ciphertext)"
    )
    assert is_non_retryable(raised.value)
    audit = CredentialAudit.objects.filter(credential_names__contains=[name], action="LEASE").get()
    assert (audit.granted, audit.reason) == (False, str(raised.value))


def test_a_credential_whose_key_is_gone_is_unreadable(settings: Any, start_step: Callable[..., Running]) -> None:
    name = unique("gen")
    services.store("generic", name, "value")
    settings.VAULT_KEYS = NEW
    with pytest.raises(CredentialUnreadable, match="its key 'test' is not among the configured vault keys"):
        lease_one(start_step, name)


def test_a_tampered_ciphertext_is_unreadable(start_step: Callable[..., Running]) -> None:
    name = unique("gen")
    services.store("generic", name, "value")
    ciphertext = bytearray(Credential.objects.get(name=name).ciphertext)
    ciphertext[0] ^= 1
    Credential.objects.filter(name=name).update(ciphertext=bytes(ciphertext))
    with pytest.raises(CredentialUnreadable):
        lease_one(start_step, name)


def test_a_ciphertext_moved_to_another_credential_is_unreadable(start_step: Callable[..., Running]) -> None:
    source, target = unique("gen"), unique("gen")
    services.store("generic", source, "the source's value")
    services.store("generic", target, "the target's value")
    row = Credential.objects.get(name=source)
    Credential.objects.filter(name=target).update(key_id=row.key_id, nonce=row.nonce, ciphertext=row.ciphertext)
    with pytest.raises(CredentialUnreadable):
        lease_one(start_step, target)


def test_without_configured_keys_a_local_key_is_generated_once(
    settings: Any, tmp_path: Path, start_step: Callable[..., Running]
) -> None:
    settings.VAULT_KEYS, settings.VAULT_REQUIRE_KEYS = "", False
    settings.VAULT_LOCAL_KEY_FILE = tmp_path / "nested" / "vault.key"
    name = unique("gen")
    services.store("generic", name, "local value")
    key_file = settings.VAULT_LOCAL_KEY_FILE
    first = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys.keyring().ids == ["local"]
    assert key_file.read_text() == first
    assert lease_one(start_step, name) == "local value"
    assert [m.id for m in check_vault_keys()] == ["vault.W001"]


def test_a_missing_key_is_a_configuration_error_when_keys_are_required(settings: Any) -> None:
    settings.VAULT_KEYS, settings.VAULT_REQUIRE_KEYS = "", True
    assert [m.id for m in check_vault_keys()] == ["vault.E001"]
    with pytest.raises(keys.VaultKeyError):
        services.store("generic", unique("gen"), "value")


@pytest.mark.parametrize("raw", ["nocolon", "bad id:AAAA", "k1:not*base64", "k1:" + "QUFB" * 3, f"{OLD},{OLD}"])
def test_a_malformed_key_list_is_reported_without_its_material(settings: Any, raw: str) -> None:
    settings.VAULT_KEYS = raw
    messages = check_vault_keys()
    assert [m.id for m in messages] == ["vault.E002"]
    assert OLD.split(":", 1)[1] not in messages[0].msg


def test_a_configured_key_list_passes_the_checks(settings: Any) -> None:
    settings.VAULT_KEYS = f"{NEW},{OLD}"
    assert check_vault_keys() == []
