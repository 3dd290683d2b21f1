"""The worker side of the vault: lease the credentials a step declared, hold them in memory for that
attempt only, and mask them in everything the attempt reports.

    secrets = secrets_for(inv)               # leases args["credentials"] once per attempt
    env = secrets.environ({"SFP_AUTH_URL": "prod-org"})

`secrets_for` installs a Redactor on the invocation (engine hook `Invocation.redactors`) before it returns
anything, so log lines, stream chunks, progress messages, the error text and traceback and the output of the
attempt are masked; both are cleared by the engine's `on_finish` hook once the outcome is recorded,
however the attempt ended (completed, failed, timed out, cancelled).

`lease_for` is the one seam where secrets enter the worker: over HTTP (sfpserver/vault/lease_client.py) when
the settings VAULT_LEASE_URL and VAULT_LEASE_TOKEN are both set, else the vault's service in-process. Either
way it presents the attempt's lease secret, which only this process holds (minted by the engine at the claim).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfpserver.vault.redaction import Redactor

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation

logger = logging.getLogger(__name__)

__all__ = ["LeasedSecrets", "Redactor", "declared", "lease_for", "secrets_for"]


def lease_for(inv: Invocation, names: Sequence[str]) -> dict[str, str]:
    """Fetch the decrypted values of `names` for this attempt, over HTTP if configured, else in-process."""
    from django.conf import settings

    url, token = getattr(settings, "VAULT_LEASE_URL", ""), getattr(settings, "VAULT_LEASE_TOKEN", "")
    if url and token:
        from sfpserver.vault.lease_client import lease_over_http

        timeout = float(getattr(settings, "VAULT_LEASE_TIMEOUT", 10.0))
        return lease_over_http(
            url,
            token,
            timeout,
            step_id=inv.step_id,
            attempt=inv.attempt,
            worker_id=inv.worker_id,
            secret=inv.lease_secret,
            names=list(names),
        )
    from sfpserver.vault import services

    requester = f"worker:{inv.worker_name}"
    return services.lease(
        inv.step_id, inv.attempt, inv.worker_id, list(names), secret=inv.lease_secret, requester=requester
    )


class LeasedSecrets:
    """The credentials leased for one step attempt, in memory only. Never shows values in its repr."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self.cleared = False

    def add(self, values: Mapping[str, str]) -> None:
        with self._lock:
            self._values.update(values)

    def __getitem__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"credential {name!r} was not leased for this step") from None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def names(self) -> list[str]:
        return list(self._values)

    def environ(self, variables: Mapping[str, str]) -> dict[str, str]:
        """Environment variables for a child process: `{"VAR": "credential-name"}` -> `{"VAR": value}`."""
        return {variable: self[name] for variable, name in variables.items()}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.cleared = True

    def __repr__(self) -> str:
        return f"<LeasedSecrets {sorted(self._values)}{' (cleared)' if self.cleared else ''}>"


def declared(inv: Invocation) -> list[str]:
    """The credential names the step declared in its args (`args["credentials"]`)."""
    from sfpserver.vault.services import declared_credentials

    return declared_credentials(inv.claimed.args)


@dataclass
class _AttemptVault:
    secrets: LeasedSecrets
    redactor: Redactor


_attempts: dict[int, _AttemptVault] = {}
_attempts_lock = threading.Lock()


def secrets_for(inv: Invocation, names: Sequence[str] | None = None) -> LeasedSecrets:
    """The leased secrets of this attempt: `names`, or every credential the step declared.

    Leases what this attempt does not hold yet (once), masks it in everything the attempt reports, and
    raises the lease's error (LeaseRefused, CredentialMissing, CredentialUnreadable: non-retryable).
    """
    vault = _attempt_vault(inv)
    wanted = declared(inv) if names is None else list(names)
    todo = [name for name in dict.fromkeys(wanted) if name not in vault.secrets]
    if todo:
        values = lease_for(inv, todo)
        vault.redactor.add(values.values())  # masked before any code can print them
        vault.secrets.add(values)
    return vault.secrets


def _attempt_vault(inv: Invocation) -> _AttemptVault:
    with _attempts_lock:
        vault = _attempts.get(id(inv))
        if vault is None:
            vault = _attempts[id(inv)] = _AttemptVault(LeasedSecrets(), Redactor())
            inv.redactors.append(vault.redactor)
            inv.on_finish(lambda: _forget(inv))
    return vault


def _forget(inv: Invocation) -> None:
    """Drop the attempt's secrets and its redactor: the attempt's outcome is recorded."""
    with _attempts_lock:
        vault = _attempts.pop(id(inv), None)
    if vault is not None:
        vault.secrets.clear()
        vault.redactor.clear()
        logger.debug("cleared leased credentials", extra={"step_id": str(inv.step_id), "attempt": inv.attempt})


def holding() -> int:
    """How many attempts in this process hold leased secrets now (for tests and diagnostics)."""
    with _attempts_lock:
        return len(_attempts)
