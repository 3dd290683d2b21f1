"""Workflows whose steps lease credentials, run by the vault tests on real workers (and in-process).

The leak workflow's steps print their leased secrets every way a careless step could: log lines, stream
chunks (URL-encoded, inside a base64 Basic header), progress messages, worker-process log records, an error
message with its repr, and the step's output. Nothing of it may reach the database unmasked.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.registry import register_workflow
from sfpserver.vault import sfdx
from sfpserver.vault.worker import LeasedSecrets, secrets_for

logger = logging.getLogger(__name__)

LEAK_SFDX = "vault-leak-sfdx"
LEAK_TOKEN = "vault-leak-token"
NEVER_STORED = "vault-never-stored"
INPROC_QUEUE = "vault-inproc"  # served by nobody: tests run these steps in their own process
seen: list[LeasedSecrets] = []  # in-process tests inspect the holders their steps used


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def spill(inv: Any) -> dict[str, Any]:
    secrets = secrets_for(inv)
    url, token = secrets[LEAK_SFDX], secrets[LEAK_TOKEN]
    parts = sfdx.parse(url)
    assert parts is not None
    inv.log(f"executed:{inv.claimed.name}:{inv.attempt}")
    inv.log(f"logging in with {url}")
    inv.log(f"refresh token {parts.refresh_token} and client secret {parts.client_secret}")
    inv.put_stream(f"GET /?token={quote(token, safe='')} HTTP/1.1\n")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    inv.put_stream(f"Authorization: Basic {basic}\n")
    inv.progress(50, f"halfway with {token}")
    logger.warning("worker log line with %s", token)
    return {"token": token, "nested": [{"auth": url}], token: "as a key", "digests": [digest(url), digest(token)]}


def explode(inv: Any) -> None:
    secrets = secrets_for(inv)
    inv.log(f"executed:{inv.claimed.name}:{inv.attempt}")
    token = secrets[LEAK_TOKEN]
    raise RuntimeError(f"deploy failed for {secrets[LEAK_SFDX]} with token {token!r} ({quote(token, safe='')})")


def lease_missing(inv: Any) -> None:
    inv.log(f"executed:{inv.claimed.name}:{inv.attempt}")
    secrets_for(inv)


def lease_undeclared(inv: Any) -> None:
    inv.log(f"executed:{inv.claimed.name}:{inv.attempt}")
    secrets_for(inv, [LEAK_TOKEN])


def hold(inv: Any) -> dict[str, Any]:
    """In-process: keep the holder for the test, report the secret, optionally fail with it."""
    secrets = secrets_for(inv)
    seen.append(secrets)
    token = secrets[LEAK_TOKEN]
    inv.log(f"holding {token}")
    if (inv.input or {}).get("fail"):
        raise ValueError(f"failing with {token}")
    return {"token": token, "held": len(secrets)}


HANDLERS: dict[str, Callable[[Any], Any]] = {
    "spill": spill,
    "explode": explode,
    "missing": lease_missing,
    "undeclared": lease_undeclared,
    "hold": hold,
}


def step(name: str, handler: str, *parents: str, **kwargs: Any) -> StepDef:
    return StepDef(name=name, action=f"tv:{handler}", parents=parents, **kwargs)


def wf(name: str, *steps: StepDef) -> None:
    handlers = {s.action: HANDLERS[s.action.split(":", 1)[1]] for s in steps}
    register_workflow(WorkflowDef(name=name, steps=steps), handlers)


BOTH = {"credentials": [LEAK_SFDX, LEAK_TOKEN]}
wf("tv.leak", step("spill", "spill", args=BOTH), step("explode", "explode", "spill", retries=1, args=BOTH))
wf("tv.missing", step("lease", "missing", retries=3, args={"credentials": [NEVER_STORED]}))
wf("tv.undeclared", step("lease", "undeclared", retries=3))
wf("tv.hold", step("hold", "hold", queue=INPROC_QUEUE, args={"credentials": [LEAK_TOKEN]}))
