"""What a task sees of the worker running it (Hatchet's `WorkerContext`, `ctx.worker_labels`): its id and its labels,
which a task may change (`upsert_labels`); the engine places the next step with affinity by the new labels."""

from __future__ import annotations

import asyncio
from typing import Any

from sfpserver.hatchet.dbsync import run_db


def _check(labels: dict[str, Any]) -> dict[str, str | int]:
    for key, value in labels.items():
        if not isinstance(key, str) or not key:
            raise ValueError("labels: a label name must be a non-empty string")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"labels.{key}: must be a string or a whole number, got {value!r}")
    return dict(labels)


def current_labels() -> dict[str, str | int]:
    """The labels of the worker this process runs (empty outside a worker)."""
    from sfpserver.engine import services

    return dict(services.current_worker_labels())


def upsert(worker_id: str | None, labels: dict[str, Any]) -> None:
    from sfpserver.engine import services

    checked = _check(labels)
    if worker_id is not None:
        run_db(lambda: services.upsert_worker_labels(worker_id, checked))


class WorkerContext:
    def __init__(self, worker_id: str | None) -> None:
        self._worker_id = worker_id

    def id(self) -> str | None:
        return self._worker_id

    def labels(self) -> dict[str, str | int]:
        return current_labels()

    def upsert_labels(self, labels: dict[str, str | int]) -> None:
        upsert(self._worker_id, labels)

    async def async_upsert_labels(self, labels: dict[str, str | int]) -> None:
        await asyncio.to_thread(self.upsert_labels, labels)
