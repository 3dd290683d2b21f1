"""Authenticated encryption of credential values: AES-256-GCM, a fresh 96-bit nonce per encryption, the
key id stored beside the ciphertext and the credential's name bound as associated data (a ciphertext moved
to another row does not decrypt). Fingerprints are keyed hashes, useless for guessing the value."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sfpserver.vault.exceptions import CredentialUnreadable
from sfpserver.vault.keys import Keyring, VaultKey

NONCE_BYTES = 12
FINGERPRINT_CHARS = 12
_AAD_PREFIX = b"sfp-vault/v1\x00"
_FINGERPRINT_INFO = b"sfp-vault/v1 fingerprint"


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)


def associated_data(name: str) -> bytes:
    return _AAD_PREFIX + name.encode()


def seal(name: str, secret: str, keyring: Keyring) -> Sealed:
    """Encrypt under the newest key."""
    key = keyring.newest
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.material).encrypt(nonce, secret.encode(), associated_data(name))
    return Sealed(key.id, nonce, ciphertext)


def unseal(name: str, sealed: Sealed, keyring: Keyring) -> str:
    """Decrypt with the key the ciphertext names; CredentialUnreadable if it is gone or anything was altered."""
    key = keyring.get(sealed.key_id)
    if key is None:
        raise CredentialUnreadable(name, f"its key {sealed.key_id!r} is not among the configured vault keys")
    try:
        plain = AESGCM(key.material).decrypt(bytes(sealed.nonce), bytes(sealed.ciphertext), associated_data(name))
    except (InvalidTag, ValueError):
        raise CredentialUnreadable(name, "authentication failed (wrong key or altered ciphertext)") from None
    try:
        return plain.decode()
    except UnicodeDecodeError:
        raise CredentialUnreadable(name, "the decrypted value is not text") from None


def fingerprint(secret: str, keyring: Keyring) -> str:
    """The first hex digits of an HMAC-SHA256 of the value under a key derived from the newest vault key."""
    digest = hmac.new(_fingerprint_key(keyring.newest), secret.encode(), hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_CHARS]


def _fingerprint_key(key: VaultKey) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FINGERPRINT_INFO).derive(key.material)
