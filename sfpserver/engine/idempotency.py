"""Idempotency keys (Hatchet's `idempotency=` configs): a trigger whose key another run holds starts nothing
and is answered with that run.

A key is the value of the workflow's key expression over the run's `input` and `additional_metadata`, engine-wide
(Hatchet's keys are tenant-wide: two workflows giving the same key share it). A TTL key is held for its TTL from
the trigger; a STATUS key until the run that took it ends (completed, cancelled, or failed with its retries spent),
at most its fallback TTL. Postgres decides, in the trigger's transaction: the key's row is the lock (its primary
key), so of concurrent triggers with one key exactly one starts a run. Expired rows are deleted by the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.utils import timezone

from sfpserver.engine import expressions, sql, statements
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.models import IdempotencyKey

FIELD = "idempotency.key_expression"
MAX_KEY = 500


@dataclass(frozen=True)
class Key:
    value: str
    ttl_seconds: float
    method: str


def evaluate(config: Any, variables: dict[str, Any]) -> Key | None:
    """The run's key under the workflow's idempotency config (None: the workflow has none)."""
    if not config:
        return None
    value = expressions.evaluate(config["expression"], variables, field=FIELD)
    if value is None or isinstance(value, (dict, list)) or value == "":
        raise InvalidWorkflowError(FIELD, f"{config['expression']!r} must give a string or a number, got {value!r}")
    text = str(value)
    if len(text) > MAX_KEY:
        raise InvalidWorkflowError(FIELD, f"the key is longer than {MAX_KEY} characters")
    return Key(text, float(config["ttl_seconds"]), config["method"])


def take(key: Key, run_id: UUID) -> UUID | None:
    """Inside the trigger's transaction: take `key` for `run_id`; None when taken, else the run that holds it."""
    params = {"key": key.value, "run": run_id, "method": key.method, "ttl": key.ttl_seconds}
    if sql.rows(statements.TAKE_IDEMPOTENCY_KEY, params):
        return None
    holder = sql.rows(statements.IDEMPOTENCY_KEY_HOLDER, {"key": key.value})
    return holder[0]["run_id"] if holder else run_id


def prune_expired(batch: int) -> int:
    """Delete up to `batch` expired keys (a STATUS key past its fallback TTL included)."""
    ids = IdempotencyKey.objects.filter(expires_at__lt=timezone.now()).values_list("key", flat=True)[:batch]
    deleted, _ = IdempotencyKey.objects.filter(key__in=list(ids)).delete()
    return deleted
