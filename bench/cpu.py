"""CPU seconds used by the processes of a phase (Linux /proc), to read the figures on a shared machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the state (3rd) on; the name may hold spaces


def process_seconds(pid: int) -> float:
    """User + system time of one process, all its threads."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def tree(root: int) -> dict[int, float]:
    """CPU seconds of a process and of each of its direct children (a postmaster and its backends); the root's
    entry includes the children it has reaped (cutime, cstime), so backends that exit are not lost."""
    fields = _stat(root)
    found = {root: sum(int(value) for value in fields[11:15]) / TICKS if fields else 0.0}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == root:
                found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def tree_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots: a child that exited in between moved its time into the root's."""
    return sum(after.values()) - sum(before.values())


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds so far of a worker node, of this (triggering) process and, if known, of Postgres."""

    worker: float
    here: float
    postgres: dict[int, float] | None

    @classmethod
    def take(cls, worker_pid: int, postmaster: int | None) -> Snapshot:
        return cls(process_seconds(worker_pid), time.process_time(), tree(postmaster) if postmaster else None)

    def per_item_ms(self, later: Snapshot, count: int) -> dict[str, float]:
        used = {"worker": later.worker - self.worker, "triggering process": later.here - self.here}
        if self.postgres is not None and later.postgres is not None:
            used["Postgres"] = tree_delta(self.postgres, later.postgres)
        return {name: seconds * 1000 / count for name, seconds in used.items()}
