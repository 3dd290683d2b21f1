"""Hatchet's `hatchet_sdk.runnables.types`: the value types a workflow module imports from there (the classes live
in sfpserver.hatchet.types, and `BatchMemberId`, the key of one item of a batch task's input, in batch_options)."""

from __future__ import annotations

from sfpserver.hatchet.batch_options import BatchMemberId
from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    DefaultFilter,
    EmptyModel,
    StickyStrategy,
    TaskDefaults,
)

__all__ = [
    "BatchMemberId",
    "ConcurrencyExpression",
    "ConcurrencyLimitStrategy",
    "DefaultFilter",
    "EmptyModel",
    "StickyStrategy",
    "TaskDefaults",
]
