"""Hatchet's `hatchet_sdk.runnables.types`: the value types a workflow module imports from there.

`DefaultFilter` is plain data here: event filters are not offered, and a workflow given `default_filters`
warns once (`unsupported.REGISTRY`). `BatchMemberId` is the key of one item of a batch task's input."""

from __future__ import annotations

from typing import NewType

from pydantic import BaseModel, Field

from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    EmptyModel,
    JSONSerializableMapping,
    StickyStrategy,
    TaskDefaults,
)


class DefaultFilter(BaseModel):
    expression: str
    scope: str
    payload: JSONSerializableMapping = Field(default_factory=dict)


BatchMemberId = NewType("BatchMemberId", str)
"""The key identifying a single item within a batch task's input/output dict (its task run external id)."""

__all__ = [
    "BatchMemberId",
    "ConcurrencyExpression",
    "ConcurrencyLimitStrategy",
    "DefaultFilter",
    "EmptyModel",
    "StickyStrategy",
    "TaskDefaults",
]
