"""Reading runs back in engine tests."""

from __future__ import annotations

from typing import Any
from uuid import UUID

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
