"""Hatchet's `EvictionPolicy` (`hatchet_sdk.runnables.eviction`) as plain data: durable tasks are not evicted
here, and a durable task given `eviction_policy` warns once (`unsupported.REGISTRY`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict


class EvictionPolicy(BaseModel):
    """When a waiting durable task may be evicted: after `ttl` of waiting, or under slot pressure."""

    model_config = ConfigDict(frozen=True)

    ttl: timedelta | None
    allow_capacity_eviction: bool = True
    priority: int = 0


DEFAULT_DURABLE_TASK_EVICTION_POLICY = EvictionPolicy(
    ttl=timedelta(minutes=15), allow_capacity_eviction=True, priority=0
)
