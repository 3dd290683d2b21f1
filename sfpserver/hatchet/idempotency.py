"""Hatchet's idempotency configurations (`hatchet_sdk.types.idempotency`) as plain data, so that workflow
modules using them load. Idempotency keys are not checked yet: a workflow given `idempotency` warns once
(`unsupported.REGISTRY`)."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

from pydantic import BaseModel


class IdempotencyMethod(Enum):
    TTL = "TTL"
    STATUS = "STATUS"


class BaseIdemotencyConfig(BaseModel):  # Hatchet's spelling
    key_expression: str


class TTLBasedIdempotencyConfig(BaseIdemotencyConfig):
    """A key is held for `ttl` after the run that took it was triggered."""

    ttl: timedelta


class StatusBasedIdempotencyConfig(BaseIdemotencyConfig):
    """A key is held while the run that took it has not failed, at most `fallback_ttl`."""

    fallback_ttl: timedelta


__all__ = ["IdempotencyMethod", "StatusBasedIdempotencyConfig", "TTLBasedIdempotencyConfig"]
