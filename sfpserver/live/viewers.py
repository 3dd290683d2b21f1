"""Who is watching the live feed, and which runs they may see: the API's visibility rules
(sfpserver/submissions/visibility.py) applied to a token, or a staff user's Django session.

A token comes as `?token=` in the WebSocket URL or as an `Authorization: Bearer` header. A session is
accepted only from a page of the same origin (so another site cannot open a socket with the user's
cookie) and only for active staff users, who see everything like an owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from django.db.models import QuerySet

from sfpserver.accounts import tokens
from sfpserver.accounts.exceptions import TokenError
from sfpserver.accounts.models import ApiToken
from sfpserver.engine.models import WorkflowRun
from sfpserver.submissions.visibility import sees_everything, visible_runs


@dataclass(frozen=True)
class Viewer:
    name: str
    token: ApiToken | None = None  # None: a staff session

    @property
    def sees_everything(self) -> bool:
        return self.token is None or sees_everything(self.token)

    def runs(self) -> QuerySet[WorkflowRun]:
        return WorkflowRun.objects.all() if self.token is None else visible_runs(self.token)

    def can_see(self, run_id: UUID | str) -> bool:
        return self.sees_everything or self.runs().filter(id=run_id).exists()

    def recent_run_ids(self, limit: int) -> list[UUID]:
        return list(self.runs().order_by("-created_at", "id").values_list("id", flat=True)[:limit])


def viewer_for(scope: dict[str, Any]) -> Viewer | None:
    """The viewer a WebSocket handshake authenticates, or None to refuse it."""
    presented = _presented_token(scope)
    if presented is not None:
        try:
            token = tokens.authenticate(presented)
        except TokenError:
            return None
        return Viewer(f"token {token.name}", token)
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_active and user.is_staff and _same_origin(scope):
        return Viewer(f"user {user.get_username()}")
    return None


def _presented_token(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return None


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _same_origin(scope: dict[str, Any]) -> bool:
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    return bool(origin and host) and urlsplit(origin or "").netloc.lower() == (host or "").lower()
