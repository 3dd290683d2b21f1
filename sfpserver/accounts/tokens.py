"""Issuing and checking API tokens.

A token reads `sfp_<prefix>_<secret>`. The prefix finds the row; the secret is checked against an
HMAC-SHA256 keyed with a key derived from SECRET_KEY (or one of SECRET_KEY_FALLBACKS, so a key rotation
does not lock everyone out at once). The token is shown once, when issued, and stored nowhere in clear.

A token stops working the moment it is revoked or expires: every request checks it, and open WebSockets
ask `unusable` every few seconds (sfpserver/live/tokenwatch.py) and close.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from sfpserver.accounts.exceptions import (
    ExpiredTokenError,
    MalformedTokenError,
    RevokedTokenError,
    TokenError,
    UnknownTokenError,
)
from sfpserver.accounts.models import ApiToken, Role

TOKEN_PREFIX = "sfp"
_KEY_PURPOSE = b"sfpserver.accounts.api-token.v1"
LAST_USED_PRECISION = timedelta(seconds=60)  # last_used_at is written at most once a minute per token


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full token string, to show once


def issue(name: str, role: str, expires_in_days: int | None = None) -> IssuedToken:
    if role not in Role.values:
        raise ValueError(f"role: expected one of {', '.join(Role.values)}, got {role!r}")
    if not name.strip():
        raise ValueError("name: a non-empty name is required")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        name=name.strip(), role=role, prefix=prefix, secret_hash=_hash(secret, _keys()[0]), expires_at=expires_at
    )
    return IssuedToken(token, f"{TOKEN_PREFIX}_{prefix}_{secret}")


def authenticate(presented: str) -> ApiToken:
    """The active token matching `presented`; raises a TokenError naming why it cannot be used."""
    found = authenticate_many([presented])[0]
    if isinstance(found, TokenError):
        raise found
    return found


def authenticate_many(presented: Sequence[str]) -> list[ApiToken | TokenError]:
    """`authenticate` of each presented token, with one query however many: the token, or why it cannot be used."""
    split: list[tuple[str, str] | None] = []
    for each in presented:
        try:
            split.append(_split(each))
        except MalformedTokenError:
            split.append(None)
    prefixes = {parts[0] for parts in split if parts is not None}
    rows = {token.prefix: token for token in ApiToken.objects.filter(prefix__in=prefixes)} if prefixes else {}
    keys, now = _keys(), timezone.now()
    found: list[ApiToken | TokenError] = []
    for parts in split:
        token = rows.get(parts[0]) if parts is not None else None
        found.append(MalformedTokenError() if parts is None else _usable(token, parts[1], keys, now))
    for token in {id(t): t for t in found if isinstance(t, ApiToken)}.values():
        _touch(token, now)
    return found


def _usable(token: ApiToken | None, secret: str, keys: list[bytes], now: datetime) -> ApiToken | TokenError:
    if token is None or not any(hmac.compare_digest(token.secret_hash, _hash(secret, key)) for key in keys):
        return UnknownTokenError()
    state = token.state(now)
    if state == "revoked":
        return RevokedTokenError()
    if state == "expired":
        return ExpiredTokenError()
    return token


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def revoke_named(name: str) -> tuple[int, int]:
    """Revoke every active token called `name`: (how many tokens have that name, how many were revoked now)."""
    named = ApiToken.objects.filter(name=name)
    return named.count(), named.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def unusable(token_ids: Collection[int]) -> set[int]:
    """Which of these tokens can no longer be used: revoked, expired or deleted. One query however many."""
    now = timezone.now()
    active = ApiToken.objects.filter(id__in=token_ids, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    return set(token_ids) - set(active.values_list("id", flat=True))


def _split(presented: str) -> tuple[str, str]:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise MalformedTokenError()
    return parts[1], parts[2]


def _keys() -> list[bytes]:
    secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hmac.new(str(key).encode(), _KEY_PURPOSE, hashlib.sha256).digest() for key in secret_keys]


def _hash(secret: str, key: bytes) -> str:
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def _touch(token: ApiToken, now: datetime) -> None:
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now
