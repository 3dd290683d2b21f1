"""System checks of the vault's configuration (`manage.py check`; also run before `migrate` and the server).

vault.E001  no key configured while VAULT_REQUIRE_KEYS is on
vault.E002  VAULT_KEYS (or VAULT_KEYS_FILE) is malformed
vault.W001  no key configured: a generated local key is used (fine for `make run`, not for production)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from sfpserver.vault import keys
from sfpserver.vault.exceptions import VaultKeyError


@register(Tags.security, deploy=False)
def check_vault_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not keys.configured():
        return [_missing()] if settings.VAULT_REQUIRE_KEYS else [_local()]
    try:
        keys.parse_keys(settings.VAULT_KEYS)
    except VaultKeyError as exc:
        return [Error(str(exc), hint="Each entry is `keyid:base64key` (32 bytes); newest first.", id="vault.E002")]
    return []


def _missing() -> Error:
    return Error(
        "No vault encryption key is configured and VAULT_REQUIRE_KEYS is on.",
        hint="Set VAULT_KEYS (or VAULT_KEYS_FILE) to `keyid:base64key`, e.g. from "
        "`python manage.py rotate_vault_keys --new-key-entry <keyid>`.",
        id="vault.E001",
    )


def _local() -> Warning:
    return Warning(
        "VAULT_KEYS is not set: credentials are encrypted with a generated local key "
        f"({settings.VAULT_LOCAL_KEY_FILE}).",
        hint="Fine for local use. Elsewhere set VAULT_KEYS (or VAULT_KEYS_FILE) and VAULT_REQUIRE_KEYS=true.",
        id="vault.W001",
    )
