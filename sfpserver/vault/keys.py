"""The vault's encryption keys: `keyid:base64key` entries from VAULT_KEYS (or VAULT_KEYS_FILE), newest first.

Every listed key decrypts; only the newest encrypts, so a key is rotated by putting a new entry in front,
running `manage.py rotate_vault_keys`, then dropping the old entry. With no key configured and
VAULT_REQUIRE_KEYS off (local use, `make run`), a key is generated once into VAULT_LOCAL_KEY_FILE.
Key material never appears in an error, a log line or a repr.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from sfpserver.vault.exceptions import VaultKeyError

logger = logging.getLogger(__name__)

KEY_BYTES = 32  # AES-256
LOCAL_KEY_ID = "local"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_warned_local = False


@dataclass(frozen=True)
class VaultKey:
    id: str
    material: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    keys: tuple[VaultKey, ...]

    @property
    def newest(self) -> VaultKey:
        return self.keys[0]

    def get(self, key_id: str) -> VaultKey | None:
        return next((key for key in self.keys if key.id == key_id), None)

    @property
    def ids(self) -> list[str]:
        return [key.id for key in self.keys]


@lru_cache(maxsize=8)
def parse_keys(raw: str) -> Keyring:
    """Parse `id:base64,id:base64,...`. Errors name the entry by position or id, never its material."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    if not entries:
        raise VaultKeyError("VAULT_KEYS: no key entries")
    keys = tuple(_parse_entry(position, entry) for position, entry in enumerate(entries, start=1))
    ids = [key.id for key in keys]
    duplicates = sorted({key_id for key_id in ids if ids.count(key_id) > 1})
    if duplicates:
        raise VaultKeyError(f"VAULT_KEYS: duplicate key id(s): {', '.join(duplicates)}")
    return Keyring(keys)


def _parse_entry(position: int, entry: str) -> VaultKey:
    key_id, sep, encoded = entry.partition(":")
    key_id = key_id.strip()
    if not sep or not _KEY_ID.match(key_id):
        raise VaultKeyError(
            f"VAULT_KEYS entry {position}: expected `keyid:base64key` with a key id of letters, digits, `_.-`"
        )
    try:
        material = _decode_base64(encoded)
    except (binascii.Error, ValueError):
        raise VaultKeyError(f"VAULT_KEYS entry {key_id!r}: the key is not valid base64") from None
    if len(material) != KEY_BYTES:
        raise VaultKeyError(f"VAULT_KEYS entry {key_id!r}: the key must decode to {KEY_BYTES} bytes (AES-256)")
    return VaultKey(key_id, material)


def _decode_base64(encoded: str) -> bytes:
    """Standard or URL-safe base64, padding optional."""
    text = encoded.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def new_key_entry(key_id: str) -> str:
    """A fresh `keyid:base64key` entry, for operators (and the local key file)."""
    if not _KEY_ID.match(key_id):
        raise VaultKeyError("key id: use 1-64 letters, digits or `_.-`")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def configured() -> bool:
    return bool(settings.VAULT_KEYS.strip())


def keyring() -> Keyring:
    """The keys in force now: VAULT_KEYS, else (unless VAULT_REQUIRE_KEYS) the generated local key."""
    if configured():
        return parse_keys(settings.VAULT_KEYS)
    if settings.VAULT_REQUIRE_KEYS:
        raise VaultKeyError("no vault key configured: set VAULT_KEYS or VAULT_KEYS_FILE (VAULT_REQUIRE_KEYS is on)")
    return parse_keys(_local_key_entry(Path(settings.VAULT_LOCAL_KEY_FILE)))


def _local_key_entry(path: Path) -> str:
    global _warned_local
    if not path.exists():
        _create_local_key(path)
    if not _warned_local:
        _warned_local = True
        logger.warning(
            "VAULT_KEYS is not set: credentials are encrypted with the generated local key in %s; "
            "set VAULT_KEYS (or VAULT_KEYS_FILE) and VAULT_REQUIRE_KEYS=true outside local use",
            path,
        )
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise VaultKeyError(f"cannot read the local vault key {path}: {exc.strerror}") from None


def _create_local_key(path: Path) -> None:
    """Write a new key atomically (hard link of a complete temp file), so racing processes agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key_entry(LOCAL_KEY_ID) + "\n")
        os.link(temp, path)
        logger.warning("generated a local vault key in %s", path)
    except FileExistsError:
        pass  # another process generated it first: use theirs
    finally:
        temp.unlink(missing_ok=True)
