"""Hatchet's idempotency configurations (`hatchet_sdk.types.idempotency`): given as `idempotency=` to a workflow or
a task, they become the engine's idempotency spec (`to_spec`), which the engine acts on (engine/idempotency.py): a
trigger whose key another run holds starts nothing and raises `IdempotencyCollisionError`."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel


class IdempotencyMethod(Enum):
    TTL = "TTL"
    STATUS = "STATUS"


class BaseIdemotencyConfig(BaseModel):  # Hatchet's spelling
    """The key is an expression over `input` and `additional_metadata` (the CEL subset of concurrency keys)."""

    key_expression: str

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError


class TTLBasedIdempotencyConfig(BaseIdemotencyConfig):
    """A trigger whose key was taken within `ttl` is refused with the run that holds the key."""

    ttl: timedelta

    def to_spec(self) -> dict[str, Any]:
        return {"expression": self.key_expression, "ttl_seconds": self.ttl.total_seconds(), "method": "TTL"}


class StatusBasedIdempotencyConfig(BaseIdemotencyConfig):
    """The key is held until the run that took it ends (retries included), at most `fallback_ttl`."""

    fallback_ttl: timedelta

    def to_spec(self) -> dict[str, Any]:
        return {"expression": self.key_expression, "ttl_seconds": self.fallback_ttl.total_seconds(), "method": "STATUS"}


__all__ = ["BaseIdemotencyConfig", "IdempotencyMethod", "StatusBasedIdempotencyConfig", "TTLBasedIdempotencyConfig"]
