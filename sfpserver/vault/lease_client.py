"""The worker's HTTP client for the lease endpoint (POST {VAULT_LEASE_URL}/internal/leases).

Error answers become the vault's exceptions again, with the server's messages: lease_refused -> LeaseRefused,
credential_missing -> CredentialMissing, credential_unreadable -> CredentialUnreadable (all non-retryable for
the step); a refused token is a LeaseRefused too. Network failures, timeouts and 5xx are LeaseUnavailable
(retryable). Nothing here logs or raises the token, the attempt's lease secret or a leased value.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from typing import Any
from uuid import UUID

from sfpserver.vault.exceptions import (
    CredentialMissing,
    CredentialUnreadable,
    LeaseRefused,
    LeaseUnavailable,
    VaultError,
)

logger = logging.getLogger(__name__)

LEASE_PATH = "/internal/leases"
_MISSING = re.compile(r"^credential '(?P<name>[^']+)' does not exist in the vault$")
_UNREADABLE = re.compile(r"^credential '(?P<name>[^']+)' is unreadable: (?P<reason>.*)$", re.DOTALL)
_REFUSED_PREFIX = "credential lease refused: "


def lease_over_http(
    base_url: str,
    token: str,
    timeout: float,
    *,
    step_id: UUID | str,
    attempt: int,
    worker_id: UUID | str | None,
    secret: str,
    names: list[str],
) -> dict[str, str]:
    body = {
        "step_id": str(step_id),
        "attempt": attempt,
        "worker_id": str(worker_id),
        "lease_secret": secret,
        "names": names,
    }
    request = urllib.request.Request(
        base_url.rstrip("/") + LEASE_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _as_vault_error(exc.code, _error_body(exc)) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LeaseUnavailable(f"cannot reach the lease endpoint: {reason}") from None
    except ValueError:
        raise LeaseUnavailable("the lease endpoint answered something that is not JSON") from None
    credentials = answer.get("credentials") if isinstance(answer, dict) else None
    if not isinstance(credentials, dict) or set(credentials) != set(names):
        raise LeaseUnavailable("the lease endpoint's answer does not hold the requested credentials")
    return {str(name): str(value) for name, value in credentials.items()}


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        parsed = json.loads(exc.read())
    except (ValueError, OSError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _as_vault_error(status: int, body: dict[str, Any]) -> VaultError:
    code, detail = body.get("error"), body.get("detail")
    text = detail if isinstance(detail, str) else ""
    if code == "lease_refused" and text.startswith(_REFUSED_PREFIX):
        return LeaseRefused(text[len(_REFUSED_PREFIX) :])
    if code == "credential_missing" and (missing := _MISSING.match(text)):
        return CredentialMissing(missing["name"])
    if code == "credential_unreadable" and (unreadable := _UNREADABLE.match(text)):
        return CredentialUnreadable(unreadable["name"], unreadable["reason"])
    if status in (401, 403):
        return LeaseRefused(f"the lease endpoint refused the worker's token ({status} {code or 'error'})")
    if status == 400:
        return LeaseRefused(f"the lease endpoint refused the request as invalid: {json.dumps(detail)[:500]}")
    return LeaseUnavailable(f"the lease endpoint answered {status} {code or ''}".strip())
