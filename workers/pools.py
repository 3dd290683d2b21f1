"""The two worker pools and how their Celery nodes are configured."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from sfpserver.engine.services import LONG_RUNNING_QUEUE, STANDARD_QUEUE


@dataclass(frozen=True)
class Pool:
    name: str
    queue: str
    processes: int
    concurrency: int
    prefetch_multiplier: int


def get_pool(name: str) -> Pool:
    if name == "standard":
        return Pool("standard", STANDARD_QUEUE, settings.WORKER_COUNT, settings.STANDARD_CONCURRENCY, 1)
    if name == "long-running":
        # Prefetch one and acknowledge late: a long step never waits behind another in a worker's buffer.
        return Pool(
            "long-running", LONG_RUNNING_QUEUE, settings.LONG_RUNNING_WORKER_COUNT, settings.LONG_RUNNING_CONCURRENCY, 1
        )
    raise ValueError(f"pool: unknown pool {name!r} (expected 'standard' or 'long-running')")
