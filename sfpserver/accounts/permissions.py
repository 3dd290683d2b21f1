"""What each role may do, in one table, and the DRF permission that reads it.

Visibility is separate (sfpserver/submissions/visibility.py): an application token sees only what it
created, and a resource the caller may not see answers 404. A capability the role lacks answers 403.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from sfpserver.accounts.models import ApiToken, Role


class Capability(StrEnum):
    READ_RUNS = "read runs and tasks"
    OPERATE_RUNS = "submit, cancel, retry and replay runs and tasks"
    READ_WORKERS = "read workers"
    READ_SCHEDULES = "read schedules"
    MANAGE_SCHEDULES = "pause schedules and change their cron"
    MANAGE_WORKFLOWS = "pause and unpause workflows"
    MANAGE_CREDENTIALS = "write credentials"  # the vault's endpoints
    MANAGE_WEBHOOKS = "manage incoming webhooks"  # they hold secrets: owner only
    WORKER_ENDPOINTS = "use the internal worker endpoints"  # credential leases


GRANTS: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability) - {Capability.WORKER_ENDPOINTS},
    Role.MEMBER: frozenset(
        {Capability.READ_RUNS, Capability.OPERATE_RUNS, Capability.READ_WORKERS, Capability.READ_SCHEDULES}
    ),
    Role.APPLICATION: frozenset(
        {
            Capability.READ_RUNS,
            Capability.OPERATE_RUNS,
            Capability.READ_WORKERS,
            Capability.READ_SCHEDULES,
            Capability.WORKER_ENDPOINTS,
        }
    ),
}


def can(role: str, capability: Capability) -> bool:
    return capability in GRANTS.get(role, frozenset())


def roles_with(capability: Capability) -> list[str]:
    return [role for role in Role.values if can(role, capability)]


class HasCapability(BasePermission):
    """Requires an authenticated token whose role grants the view's capability for this method.

    A view declares `capabilities = {"GET": Capability.READ_RUNS, ...}`; a method it does not list is refused.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False
        method = "GET" if request.method == "HEAD" else str(request.method)
        capability = getattr(view, "capabilities", {}).get(method)
        if capability is None:
            return not hasattr(view, method.lower())  # a method the view lacks answers 405 after this
        if not can(token.role, capability):
            self.message = f"this needs a token with the role {' or '.join(roles_with(capability))} ({capability})"
            return False
        return True
