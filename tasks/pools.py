"""Choosing a platform pool: a task carries a required desired worker label `pool=<name>`, which the engine
turns into that pool's Celery queue (sfpserver/hatchet/runnables.py `_queue`)."""

from __future__ import annotations

from typing import Literal

from sfpserver.hatchet.types import DesiredWorkerLabel

STANDARD: Literal["standard"] = "standard"
LONG_RUNNING: Literal["long-running"] = "long-running"


def pool(name: Literal["standard", "long-running"]) -> list[DesiredWorkerLabel]:
    """`desired_worker_labels=pool(STANDARD)` runs the task on the standard pool."""
    return [DesiredWorkerLabel(key="pool", value=name, required=True)]
