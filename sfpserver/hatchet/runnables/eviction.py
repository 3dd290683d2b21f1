"""Hatchet's `hatchet_sdk.runnables.eviction` path: `EvictionPolicy` (sfpserver.hatchet.types) and Hatchet's
default policy, which keeps a waiting durable task in its slot for 15 minutes (this platform's default, without a
policy, is ENGINE_DURABLE_EVICT_AFTER: see the README)."""

from __future__ import annotations

from datetime import timedelta

from sfpserver.hatchet.types import EvictionPolicy

DEFAULT_DURABLE_TASK_EVICTION_POLICY = EvictionPolicy(
    ttl=timedelta(minutes=15), allow_capacity_eviction=True, priority=0
)

__all__ = ["DEFAULT_DURABLE_TASK_EVICTION_POLICY", "EvictionPolicy"]
