"""The vault's exception tree. No message ever contains a secret value, only names and reasons.

Errors a step's lease can end with are marked `non_retryable`: the engine fails the step at once
(`sfpserver.engine.runtime.is_non_retryable`), because a retry would meet the same missing, unreadable or
undeclared credential. Every exception survives pickling with its arguments.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every error the vault raises on purpose."""


class VaultKeyError(VaultError):
    """No usable encryption key is configured (VAULT_KEYS / VAULT_KEYS_FILE), or it is malformed."""


class InvalidCredential(VaultError):
    """A credential to store is refused. `field` names what is wrong; the value is never quoted."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.field, self.problem))


class CredentialMissing(VaultError):
    """No credential with this name is stored (never stored, or deleted)."""

    non_retryable = True

    def __init__(self, name: str) -> None:
        super().__init__(f"credential {name!r} does not exist in the vault")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.name,))


class CredentialUnreadable(VaultError):
    """The stored ciphertext cannot be decrypted: its key is gone, or the row was tampered with."""

    non_retryable = True

    def __init__(self, name: str, reason: str = "it cannot be decrypted with the configured keys") -> None:
        super().__init__(f"credential {name!r} is unreadable: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.name, self.reason))


class LeaseRefused(VaultError):
    """A lease request does not match a running attempt on the asking worker, or asks for undeclared names."""

    non_retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(f"credential lease refused: {reason}")
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.reason,))


class LeaseUnavailable(VaultError):
    """The lease endpoint could not be reached or failed (network, timeout, 5xx): transient, so retryable."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"credential lease unavailable: {reason}")
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.reason,))


class CredentialMisuse(VaultError):
    """A credential named for a use its kind does not serve, or a destination its owner did not allow
    (sfpserver/vault/scope.py). Refused at trigger; on a worker the step fails at once."""

    non_retryable = True

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"credential {name!r} cannot be used here: {problem}")
        self.name = name
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.name, self.problem))
