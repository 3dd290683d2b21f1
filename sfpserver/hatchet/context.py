"""`Context`: what a task sees of its run, as in Hatchet (reference/hatchet-sdk.md §1.9)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID
from warnings import warn

from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.exceptions import TaskRunError
from sfpserver.hatchet.types import Duration, duration_seconds
from sfpserver.hatchet.unsupported import unsupported

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.task import Task

logger = logging.getLogger(__name__)


class Context:
    def __init__(
        self,
        *,
        invocation: Invocation | None,
        task: Task[Any, Any] | None,
        workflow_run_id: str,
        task_run_id: str,
        parent_outputs: dict[str, Any],
        additional_metadata: dict[str, Any],
        retry_count: int,
        max_attempts: int,
        priority: int,
        workflow_name: str,
        task_name: str,
        worker_id: str | None = None,
        parent_workflow_run_id: str | None = None,
        child_index: int | None = None,
        child_key: str | None = None,
        lifespan: Any = None,
        task_run_errors: dict[str, str] | None = None,
    ) -> None:
        self._inv = invocation
        self._task = task
        self._parent_outputs = parent_outputs
        self._task_run_errors = task_run_errors
        self._mock_cancelled = False
        self.workflow_run_id = workflow_run_id
        self.task_run_id = task_run_id
        self.additional_metadata = additional_metadata
        self.retry_count = retry_count
        self.attempt_number = retry_count + 1
        self.max_attempts = max_attempts
        self.priority = priority
        self.workflow_name = workflow_name
        self.task_name = task_name
        self.worker_id = worker_id
        self.parent_workflow_run_id = parent_workflow_run_id
        self.child_index = child_index
        self.child_key = child_key
        self.lifespan = lifespan
        self.filter_payload: dict[str, Any] = {}
        self.triggering_event_id = additional_metadata.get("hatchet__event_id")
        self.triggering_event_key = additional_metadata.get("hatchet__event_key")

    # Parents ---------------------------------------------------------------------------------------------
    def task_output(self, task: Task[Any, Any]) -> Any:
        if task.name not in self._parent_outputs:
            raise ValueError(f"{task.name} is not a parent of this task or has no output")
        data = self._parent_outputs[task.name]
        if data is None and task.name in self.task_run_errors:  # failed, and continued past (README)
            raise ValueError(f"{task.name} failed; read its error with ctx.get_task_run_error")
        if isinstance(data, dict) and data.get("skipped") is True:
            raise ValueError(f"{task.name} was skipped")
        return task.validate_output(data)

    def was_skipped(self, task: Task[Any, Any]) -> bool:
        data = self._parent_outputs.get(task.name)
        return isinstance(data, dict) and data.get("skipped") is True

    @property
    def was_triggered_by_event(self) -> bool:
        return self.triggering_event_id is not None

    @property
    def step_run_id(self) -> str:
        return self.task_run_id

    # Reporting -------------------------------------------------------------------------------------------
    def log(self, line: str | dict[str, Any] | Any, raise_on_error: bool = False) -> None:
        text = json.dumps(line) if isinstance(line, dict) else str(line)
        logger.info(text, extra={"run_id": self.workflow_run_id, "step": self.task_name})
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.log(text))

    async def aio_log(self, line: str | dict[str, Any] | Any, raise_on_error: bool = False) -> None:
        text = json.dumps(line) if isinstance(line, dict) else str(line)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.log(text))

    def put_stream(self, data: str | bytes) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        if self._inv is not None:
            inv = self._inv
            try:
                run_db(lambda: inv.put_stream(text))
            except Exception:  # noqa: BLE001 - Hatchet swallows stream errors
                logger.warning("could not record a stream chunk", extra={"run_id": self.workflow_run_id})

    async def aio_put_stream(self, data: str | bytes) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.put_stream(text))

    # Extensions (not in Hatchet) ----------------------------------------------------------------------
    @property
    def invocation(self) -> Invocation | None:
        """The engine's view of this attempt (None in mock runs): leases, stop callbacks."""
        return self._inv

    def progress(self, percent: float, message: str = "") -> None:
        """Record a progress event (0-100) for this attempt; shown by the API and the live feed."""
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.progress(max(0.0, min(100.0, float(percent))), message))

    def refresh_timeout(self, increment_by: Duration) -> None:
        if isinstance(increment_by, str):
            warn("passing a string duration is deprecated; use a timedelta", DeprecationWarning, stacklevel=2)
        seconds = duration_seconds(increment_by, 0)
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.refresh_timeout(seconds))

    async def aio_refresh_timeout(self, increment_by: Duration) -> None:
        seconds = duration_seconds(increment_by, 0)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.refresh_timeout(seconds))

    def release_slot(self) -> None:
        """Accepted for compatibility; see the README: the slot is released when the task ends."""
        unsupported("release_slot", "Context")

    async def aio_release_slot(self) -> None:
        self.release_slot()

    # Cancellation ----------------------------------------------------------------------------------------
    def cancel(self) -> None:
        from sfpserver.engine import services

        if self._inv is None:
            self._mock_cancelled = True
            return
        inv = self._inv
        run_db(lambda: services.cancel_step(inv.step_id, "cancelled by the task itself"))
        inv.cancelled.set()

    async def aio_cancel(self) -> None:
        from sfpserver.engine import services

        if self._inv is None:
            self._mock_cancelled = True
            return
        inv = self._inv
        await aio_db(lambda: services.cancel_step(inv.step_id, "cancelled by the task itself"))
        inv.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self._inv.cancelled.is_set() if self._inv is not None else self._mock_cancelled

    @property
    def exit_flag(self) -> bool:
        return self.is_cancelled

    def done(self) -> bool:
        return self.is_cancelled

    # Errors of other tasks (on-failure tasks) ------------------------------------------------------------
    @property
    def task_run_errors(self) -> dict[str, str]:
        if self._task_run_errors is None:
            self._task_run_errors = run_db(lambda: _failed_task_errors(self.workflow_run_id))
        return self._task_run_errors

    def get_task_run_error(self, task: Task[Any, Any]) -> TaskRunError | None:
        serialized = self.task_run_errors.get(task.name)
        return TaskRunError.deserialize(serialized) if serialized else None

    def fetch_task_run_error(self, task: Task[Any, Any]) -> str | None:
        warn("fetch_task_run_error is deprecated; use get_task_run_error", DeprecationWarning, stacklevel=2)
        return self.task_run_errors.get(task.name)


def _failed_task_errors(run_id: str) -> dict[str, str]:
    from sfpserver.engine import services
    from sfpserver.hatchet.refs import task_run_error

    failed = services.steps_of([UUID(run_id)], status=services.StepStatus.FAILED)
    return {step.name: task_run_error(step).serialize(include_metadata=True) for step in failed}


class DurableContext(Context):
    """Durable tasks run as ordinary tasks here (see the README); durable waits are not supported."""

    async def aio_sleep_for(self, duration: Duration) -> dict[str, Any]:
        import asyncio

        unsupported("aio_sleep_for", "DurableContext")
        seconds = duration_seconds(duration, 0)
        await asyncio.sleep(seconds)
        return {"duration": timedelta(seconds=seconds)}
