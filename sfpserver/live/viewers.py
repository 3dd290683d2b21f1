"""Who is watching the live feed, and which runs they may see: the API's visibility rules
(sfpserver/submissions/visibility.py) applied to a token, or a staff user's Django session.

A token comes in a header, never in the URL (proxies and access logs keep URLs): browsers, which cannot set
headers on a WebSocket, offer it as a subprotocol, `new WebSocket(url, ["sfp.v1", "bearer." + token])`
(a token's characters, `sfp_`, hex and base64url, are all allowed in a subprotocol name); other clients may
send `Authorization: Bearer <token>`. The server's answer echoes only `sfp.v1`, never the token. A handshake
with a `token` in its query string is refused outright, valid or not, so a client that leaks it learns so.
A session is accepted only from a page of the same origin (so another site cannot open a socket with the
user's cookie) and only for active staff users, who see everything like an owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from sfpserver.accounts import tokens
from sfpserver.accounts.exceptions import TokenError
from sfpserver.accounts.models import ApiToken
from sfpserver.engine import services
from sfpserver.submissions.visibility import sees_everything, visible_runs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Viewer:
    name: str
    token: ApiToken | None = None  # None: a staff session

    @property
    def sees_everything(self) -> bool:
        return self.token is None or sees_everything(self.token)

    def runs(self) -> services.RunQuery:
        return services.RunQuery(within=visible_runs(self.token))

    def can_see(self, run_id: UUID | str) -> bool:
        return self.sees_everything or services.run_exists(run_id, visible_runs(self.token))

    def recent_run_ids(self, limit: int) -> list[UUID]:
        return [run.id for run in services.list_runs(self.runs())[:limit]]


PROTOCOL = "sfp.v1"  # the subprotocol the server speaks, and the only one it ever echoes
BEARER_PROTOCOL = "bearer."  # a subprotocol that carries a token: `bearer.<token>`


def viewer_for(scope: dict[str, Any]) -> Viewer | None:
    """The viewer a WebSocket handshake authenticates, or None to refuse it."""
    if "token" in parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        logger.info("live feed: refused a token in the URL (offer it as the bearer.<token> subprotocol)")
        return None
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


def accepted_protocol(scope: dict[str, Any]) -> str | None:
    """The subprotocol to answer with: `sfp.v1` if the client offered it, else none (never a `bearer.` one)."""
    return PROTOCOL if PROTOCOL in scope.get("subprotocols", []) else None


def _presented_token(scope: dict[str, Any]) -> str | None:
    offered = [p for p in scope.get("subprotocols", []) if p.startswith(BEARER_PROTOCOL)]
    if offered:
        return offered[0][len(BEARER_PROTOCOL) :] if len(offered) == 1 else ""
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
