"""What a broker message names: one step attempt, and the queue it goes to. A leaf module: dispatch.py publishes
these, and the modules that decide where one goes before it is published (affinity.py, batching.py) take them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Dispatch:
    step_id: UUID
    attempt: int
    queue: str
    priority: int = 1  # 1..3 as in Hatchet; 4 for retries, which go ahead of every user priority
    shown_as: str = ""  # `<workflow>:<step>` when the caller knows it (else looked up when publishing)
