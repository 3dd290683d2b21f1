"""What the phases measure, and small helpers they share."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Throughput:
    count: int
    seconds: float  # the measured interval
    detail: str
    drain_seconds: float | None = None  # first start → last finish, when `seconds` covers more (enqueueing)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per item, by process

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")

    @property
    def drain_rate(self) -> float:
        seconds = self.seconds if self.drain_seconds is None else self.drain_seconds
        return self.count / seconds if seconds > 0 else float("nan")


@dataclass
class Commits:
    steps: int
    raw: int  # every commit in the engine's database during the window
    own: int  # the bench's own queries (polling for the end), not the engine's
    idle: int  # an idle interval of the same length: heartbeats (no scheduler runs)
    seconds: float

    @property
    def net(self) -> int:
        return self.raw - self.own - self.idle


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def drain_timeout(count: int) -> float:
    return 60.0 + count / 10
