"""Run references and results: `WorkflowRunRef`, `TaskRunRef` and the outcome of a finished run, read from
Postgres through the engine's front door (Hatchet's `workflow_run.py` and `TaskRunRef`).

A ref polls the run's status until it is terminal, then reads its outcome once: the outputs of its
completed tasks, or Hatchet's exceptions (`FailedTaskRunExceptionGroup` of `TaskRunError`; `ValueError`
for a cancelled run waited on synchronously).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from sfpserver.engine import services
from sfpserver.engine.services import TERMINAL_RUN_STATUSES, RunView, StepStatus, StepView
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.exceptions import FailedTaskRunExceptionGroup, TaskRunError

if TYPE_CHECKING:
    from sfpserver.hatchet.workflow import Standalone

R = TypeVar("R")
TInput = TypeVar("TInput")  # the task's input type: Hatchet's TaskRunRef[TWorkflowInput, R]
POLL_START, POLL_MAX = 0.05, 0.5


def task_run_error(step: StepView) -> TaskRunError:
    return TaskRunError(step.error, step.error_type, services.last_traceback(step.id), str(step.id))


def valid_uuid(value: str) -> bool:
    try:
        UUID(str(value))
        return True
    except ValueError:
        return False


def run_status(run_id: str) -> str | None:
    return services.run_status(UUID(run_id))


def run_view(run_id: str) -> RunView:
    run = services.get_run(run_id)
    if run is None:
        raise ValueError(f"Workflow run {run_id} not found")
    return run


def outcome(run_id: str, *, for_async: bool) -> dict[str, Any]:
    run = run_view(run_id)
    steps = services.steps_of([run.id])
    if run.status == "FAILED":
        errors = [task_run_error(s) for s in steps if s.status == StepStatus.FAILED and s.error]
        raise FailedTaskRunExceptionGroup(f"Workflow run {run_id} failed.", errors)
    if run.status == "CANCELLED" and not for_async:
        raise ValueError(f"Workflow run {run_id} was cancelled.")
    outputs = {s.name: s.output for s in steps if s.status == StepStatus.COMPLETED}
    return {k: v for k, v in outputs.items() if v} if for_async else outputs


class WorkflowRunRef:
    def __init__(self, workflow_run_id: str) -> None:
        self.workflow_run_id = str(workflow_run_id)

    def __str__(self) -> str:
        return self.workflow_run_id

    def __repr__(self) -> str:
        return f"WorkflowRunRef({self.workflow_run_id!r})"

    def result(self, poll_interval: float | None = None) -> dict[str, Any]:
        interval, misses = POLL_START, 0
        while True:
            status = run_db(lambda: run_status(self.workflow_run_id)) if valid_uuid(self.workflow_run_id) else None
            if status is None:
                misses += 1
                if misses > 10:
                    raise ValueError(f"Workflow run {self.workflow_run_id} not found")
            elif status in TERMINAL_RUN_STATUSES:
                return run_db(lambda: outcome(self.workflow_run_id, for_async=False))
            time.sleep(interval)
            interval = min(interval * 1.5, poll_interval or POLL_MAX)

    async def aio_result(self) -> dict[str, Any]:
        interval, misses = POLL_START, 0
        while True:
            known = valid_uuid(self.workflow_run_id)
            status = await aio_db(lambda: run_status(self.workflow_run_id)) if known else None
            if status is None:
                misses += 1
                if misses > 10:
                    raise ValueError(f"Workflow run {self.workflow_run_id} not found")
            elif status in TERMINAL_RUN_STATUSES:
                return await aio_db(lambda: outcome(self.workflow_run_id, for_async=True))
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)


class TaskRunRef(Generic[TInput, R]):
    def __init__(self, workflow_run_id: str, standalone: Standalone[TInput, R]) -> None:
        self.workflow_run_id = str(workflow_run_id)
        self._standalone = standalone
        self._ref = WorkflowRunRef(workflow_run_id)

    def __str__(self) -> str:
        return self.workflow_run_id

    def result(self, poll_interval: float | None = None) -> R:
        return self._standalone._extract(self._ref.result(poll_interval))

    async def aio_result(self) -> R:
        return self._standalone._extract(await self._ref.aio_result())
