"""Environment locks with tickets (sfp-domain §3.5: `sfp server environment lock/unlock`).

An environment is a Salesforce org known to the vault by its credential name. `lock` waits up to
`wait_seconds` for a free (or expired) lock and returns a ticket; `unlock` needs that ticket. The response
mirrors the official action's (`ticketId`, `status`, `environmentName`, `duration`, `salesforceUsername`,
`instanceUrl`) minus the access token: the org's credentials stay in the vault.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sfpserver.vault import services as vault
from sfpserver.vault.exceptions import CredentialMissing
from tasks.models import EnvironmentLock

POLL_SECONDS = 1.0


class EnvironmentLockError(RuntimeError):
    """A lock or unlock that cannot be done; says which environment and why."""

    non_retryable = True

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.args)


class EnvironmentBusy(EnvironmentLockError):
    """Held by someone else (retryable: it may be free later)."""

    non_retryable = False


def describe_environment(name: str) -> dict[str, Any]:
    try:
        described = vault.describe(name)
    except CredentialMissing:
        raise EnvironmentLockError(
            f"unknown environment {name!r}: no org credential by that name in the vault"
        ) from None
    if described["kind"] != "sfdx_auth_url":
        raise EnvironmentLockError(f"environment {name!r} is a {described['kind']} credential, not a Salesforce org")
    return dict(described["metadata"])


def lock(
    name: str,
    *,
    minutes: int,
    wait_seconds: float = 0,
    reason: str = "",
    repository: str = "",
    run_id: str | None = None,
    keep_waiting: Callable[[], bool] = lambda: True,
) -> dict[str, Any]:
    org = describe_environment(name)
    deadline = time.monotonic() + wait_seconds
    while True:
        held = _try_lock(name, minutes, reason, repository, run_id)
        if isinstance(held, EnvironmentLock):
            return _response(held, org, minutes)
        if time.monotonic() >= deadline or not keep_waiting():
            raise EnvironmentBusy(
                f"environment {name!r} is locked until {held:%Y-%m-%d %H:%M:%S} UTC"
                + (f" (waited {int(wait_seconds)}s)" if wait_seconds else "")
            )
        time.sleep(POLL_SECONDS)


def _try_lock(name: str, minutes: int, reason: str, repository: str, run_id: str | None) -> EnvironmentLock | Any:
    now = timezone.now()
    fields = {
        "ticket": uuid.uuid4(),
        "reason": reason,
        "repository": repository,
        "run_id": run_id,
        "acquired_at": now,
        "expires_at": now + timedelta(minutes=minutes),
    }
    try:
        with transaction.atomic():
            current = EnvironmentLock.objects.select_for_update().filter(environment=name).first()
            if current is None:
                return EnvironmentLock.objects.create(environment=name, **fields)
            if current.expires_at > now:
                return current.expires_at
            for attr, value in fields.items():
                setattr(current, attr, value)
            current.save()
            return current
    except IntegrityError:  # created concurrently: report it as held
        return timezone.now()


def unlock(name: str, ticket: str) -> dict[str, Any]:
    describe_environment(name)
    with transaction.atomic():
        current = EnvironmentLock.objects.select_for_update().filter(environment=name).first()
        if current is None:
            raise EnvironmentLockError(f"environment {name!r} is not locked")
        if str(current.ticket) != ticket:
            raise EnvironmentLockError(f"the ticket does not match the lock held on environment {name!r}")
        current.delete()
    return {"status": "released", "environmentName": name, "ticketId": ticket}


def _response(held: EnvironmentLock, org: dict[str, Any], minutes: int) -> dict[str, Any]:
    return {
        "ticketId": str(held.ticket),
        "status": "acquired",
        "environmentName": held.environment,
        "duration": minutes,
        "expiresAt": held.expires_at.isoformat(),
        "salesforceUsername": org.get("username"),
        "instanceUrl": org.get("instance_url"),
    }
