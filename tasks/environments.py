"""Environment locks with tickets (sfp-domain §3.5: `sfp server environment lock/unlock`).

An environment is a Salesforce org known to the vault by its credential name. `try_lock` takes a free (or
expired) lock and returns a ticket; `unlock` needs that ticket. Waiting for a held lock is the operation's
business (tasks/workflows/standard.py waits durably, holding no worker slot): between tries it sleeps
`next_try_in`, and an unlock's event (approvals.ENVIRONMENT_UNLOCKED, scoped to the environment) wakes it at
once. A try is safe to repeat: the run that holds a lock gets it back. The response mirrors the official
action's (`ticketId`, `status`, `environmentName`, `duration`, `salesforceUsername`, `instanceUrl`) minus the
access token: the org's credentials stay in the vault.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sfpserver.vault import services as vault
from sfpserver.vault.exceptions import CredentialMissing
from tasks.models import EnvironmentLock

RETRY_EVERY = timedelta(minutes=1)  # a waiter tries again at least this often (an unlock's event is sooner)


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


@dataclass(frozen=True)
class Held:
    """Someone else holds the environment, until `until` (an expired lock is taken over at the next try)."""

    until: datetime


def try_lock(
    name: str, *, minutes: int, reason: str = "", repository: str = "", run_id: str | None = None
) -> dict[str, Any] | Held:
    """One attempt to lock `name`: the lock's response, or Held. Safe to repeat (a durable task's replay repeats
    it): the run that holds the lock gets it back, with its ticket, instead of being told it is held."""
    org = describe_environment(name)
    held = _try_lock(name, minutes, reason, repository, run_id)
    return _response(held, org, minutes) if isinstance(held, EnvironmentLock) else Held(held)


def busy(name: str, held: Held, waited_seconds: float = 0) -> EnvironmentBusy:
    return EnvironmentBusy(
        f"environment {name!r} is locked until {held.until:%Y-%m-%d %H:%M:%S} UTC"
        + (f" (waited {int(waited_seconds)}s)" if waited_seconds else "")
    )


def next_try_in(now: datetime, deadline: datetime) -> timedelta:
    """How long a waiter sleeps before it tries again, at most: until its deadline or RETRY_EVERY, in whole
    seconds, at least one (an unlock's event wakes it sooner; an expired lock is taken at the next try). It
    depends on nothing but remembered times, so a durable task's replay asks for the same sleep."""
    remaining = min(deadline - now, RETRY_EVERY)
    return max(timedelta(seconds=math.ceil(remaining.total_seconds())), timedelta(seconds=1))


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
            if run_id is not None and current.run_id is not None and str(current.run_id) == str(run_id):
                return current  # this run took it already (a replay tries again): the same ticket
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
