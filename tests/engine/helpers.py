"""Reading runs back in engine tests, and the broker lists of queues nobody serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import redis
from django.conf import settings

from sfpserver.engine.models import TERMINAL_RUN_STATUSES, Attempt, EventKind, RunEvent, StepRun, WorkflowRun
from tests.conftest import wait_until


def wait_for_run(run_id: UUID, timeout: float = 30.0) -> WorkflowRun:
    def finished() -> WorkflowRun | None:
        run = WorkflowRun.objects.get(id=run_id)
        return run if run.status in TERMINAL_RUN_STATUSES else None

    states = lambda: {s.name: (s.status, s.attempt, s.error) for s in StepRun.objects.filter(run_id=run_id)}  # noqa: E731
    try:
        result: WorkflowRun = wait_until(finished, timeout=timeout, what=f"run {run_id} to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; steps: {states()}") from None
    return result


def steps(run_id: UUID) -> dict[str, StepRun]:
    return {s.name: s for s in StepRun.objects.filter(run_id=run_id)}


def executions(run_id: UUID, step: str) -> int:
    """How many times the step's code really started (each execution logs once)."""
    return RunEvent.objects.filter(run_id=run_id, kind=EventKind.LOG, message__startswith=f"executed:{step}:").count()


def attempts(step: StepRun) -> list[dict[str, Any]]:
    rows = Attempt.objects.filter(step=step).order_by("number").values("number", "outcome", "error_message")
    return [dict(row) for row in rows]


def purged_broker(*queues: str) -> Iterator[redis.Redis]:
    """A client of the broker, with the lists of `queues` (every priority step) emptied before and after: the body
    of a fixture for tests that publish onto queues nobody serves and count what is there."""
    client = redis.Redis.from_url(settings.REDIS_URL)

    def purge() -> None:
        for queue in queues:
            keys = list(client.scan_iter(match=f"{queue}*"))
            if keys:
                client.delete(*keys)

    purge()
    yield client
    purge()
    client.close()
