"""The `hatchet.runs` client (Hatchet's `features/runs.py`): reading, listing, cancelling, replaying and
streaming runs through the engine's front door, returned as Hatchet's read models.

`WorkflowRunRef` and `TaskRunRef` live in `refs` (re-exported here for the old import path)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.utils import timezone

from sfpserver.engine import services
from sfpserver.engine.services import (
    TERMINAL_RUN_STATUSES,
    AttemptView,
    InvalidStateError,
    RunQuery,
    RunView,
    StepStatus,
    StepView,
)
from sfpserver.hatchet.clients.rest.models.v1_task_event_type import V1TaskEventType
from sfpserver.hatchet.config import ClientConfig
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.refs import TaskRunRef, WorkflowRunRef, run_status, run_view, task_run_error, valid_uuid
from sfpserver.hatchet.types import BulkCancelReplayOpts, RunFilter, V1TaskStatus

__all__ = ["RunsClient", "TaskRunRef", "WorkflowRunRef", "task_run_error"]


# --- read models ------------------------------------------------------------------------------------------


@dataclass
class APIResourceMeta:
    id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class TaskRunDetail:
    external_id: str
    readable_id: str
    output: Any
    error: str | None
    status: V1TaskStatus
    is_evicted: bool = False


@dataclass
class WorkflowRunDetail:
    external_id: str
    status: V1TaskStatus
    input: Any
    additional_metadata: dict[str, Any]
    task_runs: dict[str, TaskRunDetail]
    done: bool
    is_evicted: bool = False


@dataclass
class V1TaskSummary:
    metadata: APIResourceMeta
    task_external_id: str
    status: V1TaskStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: int | None
    display_name: str
    input: Any
    output: Any
    error_message: str | None
    retry_count: int
    attempt: int
    additional_metadata: dict[str, Any]
    action_id: str | None
    workflow_id: str
    workflow_name: str
    workflow_run_external_id: str
    type: str
    parent_task_external_id: str | None = None
    num_spawned_children: int = 0
    children: list[V1TaskSummary] | None = None
    is_evicted: bool = False
    tenant_id: str = "default"


@dataclass
class PaginationResponse:
    current_page: int
    next_page: int
    num_pages: int


@dataclass
class V1TaskSummaryList:
    rows: list[V1TaskSummary]
    pagination: PaginationResponse


@dataclass
class V1TaskEvent:
    id: int
    task_id: str
    timestamp: datetime
    event_type: V1TaskEventType
    message: str
    error_message: str | None = None
    worker_id: str | None = None
    attempt: int | None = None
    retry_count: int | None = None


@dataclass
class V1WorkflowRun:
    metadata: APIResourceMeta
    status: V1TaskStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration: int | None
    additional_metadata: dict[str, Any]
    display_name: str
    workflow_id: str
    output: Any
    error_message: str | None
    input: Any
    created_at: datetime
    parent_task_external_id: str | None
    tenant_id: str = "default"


@dataclass
class V1WorkflowRunDetails:
    run: V1WorkflowRun
    task_events: list[V1TaskEvent]
    shape: list[dict[str, Any]]
    tasks: list[V1TaskSummary]
    workflow_config: dict[str, Any] = field(default_factory=dict)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() * 1000) if start and end else None


def created(steps: list[StepView]) -> list[StepView]:
    """The tasks created so far: Hatchet creates a task when its parents are done, so one still waiting for
    them (PENDING) is not listed yet."""
    return [s for s in steps if s.status != StepStatus.PENDING]


def _task_status(status: str) -> V1TaskStatus:
    return V1TaskStatus.QUEUED if status == StepStatus.PENDING else V1TaskStatus(status)


def _evicted(step: StepView) -> bool:
    """A durable task evicted at a wait (it ran before; a DAG task waiting on its conditions never did)."""
    return step.durable_wait and step.attempt > 0


def _step_status(step: StepView) -> V1TaskStatus:
    """As Hatchet shows it: an evicted durable task is still RUNNING (with is_evicted)."""
    return V1TaskStatus.RUNNING if _evicted(step) else _task_status(step.status)


def _task_summary(step: StepView, run: RunView) -> V1TaskSummary:
    error = task_run_error(step).serialize(include_metadata=True) if step.status == StepStatus.FAILED else None
    return V1TaskSummary(
        metadata=APIResourceMeta(str(step.id), step.created_at, step.created_at),
        task_external_id=str(step.id),
        status=_step_status(step),
        created_at=step.created_at,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration=_ms(step.started_at, step.finished_at),
        display_name=f"{step.name}-{int(step.created_at.timestamp())}",
        input=run.input or {},
        output=step.output or {},
        error_message=error,
        retry_count=step.attempt,
        attempt=step.attempt + 1,
        additional_metadata=run.additional_metadata,
        action_id=step.action,
        workflow_id=run.workflow_name,
        workflow_name=run.workflow_name,
        workflow_run_external_id=str(run.id),
        type="TASK",
        parent_task_external_id=str(run.parent_step_id) if run.parent_step_id else None,
        num_spawned_children=services.children_count(step.id),
    )


def _run_summary(run: RunView, steps: list[StepView]) -> V1TaskSummary:
    failed = [s for s in steps if s.status == StepStatus.FAILED]
    return V1TaskSummary(
        metadata=APIResourceMeta(str(run.id), run.created_at, run.created_at),
        task_external_id=str(run.id),
        status=V1TaskStatus(run.status),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration=_ms(run.started_at, run.finished_at),
        display_name=f"{run.workflow_name}-{int(run.created_at.timestamp())}",
        input=run.input or {},
        output=run.output or {},
        error_message=task_run_error(failed[-1]).serialize(True) if failed else None,
        retry_count=max((s.attempt for s in steps), default=0),
        attempt=max((s.attempt for s in steps), default=0) + 1,
        additional_metadata=run.additional_metadata,
        action_id=None,
        workflow_id=run.workflow_name,
        workflow_name=run.workflow_name,
        workflow_run_external_id=str(run.id),
        type="DAG",
        parent_task_external_id=str(run.parent_step_id) if run.parent_step_id else None,
        children=[_task_summary(s, run) for s in created(steps)],
    )


class RunsClient:
    """`hatchet.runs`."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()

    # Reading -----------------------------------------------------------------------------------------------
    def get_details(self, external_id: str) -> WorkflowRunDetail:
        def read() -> WorkflowRunDetail:
            run = run_view(external_id)
            steps = services.steps_of([run.id])
            return WorkflowRunDetail(
                external_id=str(run.id),
                status=V1TaskStatus(run.status),
                input=run.input,
                additional_metadata=run.additional_metadata,
                task_runs={
                    s.name: TaskRunDetail(
                        external_id=str(s.id),
                        readable_id=s.name,
                        output=s.output,
                        error=task_run_error(s).serialize(True) if s.status == StepStatus.FAILED else None,
                        status=_step_status(s),
                        is_evicted=_evicted(s),
                    )
                    for s in created(steps)
                },
                done=run.status in TERMINAL_RUN_STATUSES,
            )

        return run_db(read)

    async def aio_get_details(self, external_id: str) -> WorkflowRunDetail:
        return await aio_db(lambda: self.get_details(external_id))

    def get(self, workflow_run_id: str) -> V1WorkflowRunDetails:
        def read() -> V1WorkflowRunDetails:
            run = run_view(workflow_run_id)
            steps = services.steps_of([run.id])
            failed = [s for s in steps if s.status == StepStatus.FAILED]
            by_parent = {s.name: [c for c in steps if s.name in c.parents] for s in steps}
            return V1WorkflowRunDetails(
                run=V1WorkflowRun(
                    metadata=APIResourceMeta(str(run.id), run.created_at, run.created_at),
                    status=V1TaskStatus(run.status),
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    duration=_ms(run.started_at, run.finished_at),
                    additional_metadata=run.additional_metadata,
                    display_name=f"{run.workflow_name}-{int(run.created_at.timestamp())}",
                    workflow_id=run.workflow_name,
                    output=run.output or {},
                    error_message=task_run_error(failed[-1]).serialize(True) if failed else None,
                    input=run.input or {},
                    created_at=run.created_at,
                    parent_task_external_id=str(run.parent_step_id) if run.parent_step_id else None,
                ),
                task_events=_task_events(steps),
                shape=[
                    {
                        "task_external_id": str(s.id),
                        "step_id": s.name,
                        "task_name": s.name,
                        "children_step_ids": [c.name for c in by_parent[s.name]],
                    }
                    for s in steps
                ],
                tasks=[_task_summary(s, run) for s in created(steps)],
            )

        return run_db(read)

    async def aio_get(self, workflow_run_id: str) -> V1WorkflowRunDetails:
        return await aio_db(lambda: self.get(workflow_run_id))

    def get_status(self, workflow_run_id: str) -> V1TaskStatus:
        status = run_db(lambda: run_status(workflow_run_id))
        if status is None:
            raise ValueError(f"Workflow run {workflow_run_id} not found")
        return V1TaskStatus(status)

    async def aio_get_status(self, workflow_run_id: str) -> V1TaskStatus:
        return await aio_db(lambda: self.get_status(workflow_run_id))

    def get_task_run(self, task_run_id: str) -> V1TaskSummary:
        def read() -> V1TaskSummary:
            step = services.get_step(task_run_id)
            if step is None:
                raise ValueError(f"Task run {task_run_id} not found")
            return _task_summary(step, run_view(str(step.run_id)))

        return run_db(read)

    async def aio_get_task_run(self, task_run_id: str) -> V1TaskSummary:
        return await aio_db(lambda: self.get_task_run(task_run_id))

    def list(
        self,
        since: datetime | None = None,
        only_tasks: bool = False,
        offset: int | None = None,
        limit: int | None = None,
        statuses: list[V1TaskStatus] | None = None,
        until: datetime | None = None,
        additional_metadata: dict[str, str] | None = None,
        workflow_ids: list[str] | None = None,
        worker_id: str | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
        include_payloads: bool = True,
    ) -> V1TaskSummaryList:
        def read() -> V1TaskSummaryList:
            metadata = dict(additional_metadata or {})
            if triggering_event_external_id:
                metadata["hatchet__event_id"] = triggering_event_external_id
            filters = RunFilter(
                since=since or timezone.now() - timedelta(days=1),
                until=until,
                statuses=statuses,
                workflow_ids=workflow_ids,
                additional_metadata=metadata,
            )
            runs = services.list_runs(_run_query(filters, spawned_by=parent_task_external_id or None))
            size, start = limit or 50, offset or 0
            total = runs.count()
            page = runs[start : start + size]
            rows: list[V1TaskSummary] = []
            for run in page:
                steps = services.steps_of([run.id])
                if worker_id and not any(str(s.worker_id) == worker_id for s in steps):
                    continue
                rows.extend(
                    [_task_summary(s, run) for s in created(steps)] if only_tasks else [_run_summary(run, steps)]
                )
            return V1TaskSummaryList(rows, PaginationResponse(start // size + 1, start // size + 2, -(-total // size)))

        return run_db(read)

    async def aio_list(self, **kwargs: Any) -> V1TaskSummaryList:
        return await aio_db(lambda: self.list(**kwargs))

    def list_with_pagination(self, **kwargs: Any) -> builtins.list[V1TaskSummary]:
        return self.list(limit=10_000, **kwargs).rows

    async def aio_list_with_pagination(self, **kwargs: Any) -> builtins.list[V1TaskSummary]:
        return await aio_db(lambda: self.list_with_pagination(**kwargs))

    def get_result(self, run_id: str) -> Any:
        return run_db(lambda: services.run_output(run_id))

    async def aio_get_result(self, run_id: str) -> Any:
        return await aio_db(lambda: self.get_result(run_id))

    def get_run_ref(self, workflow_run_id: str) -> WorkflowRunRef:
        return WorkflowRunRef(workflow_run_id)

    # Triggering by name --------------------------------------------------------------------------------------
    def create(
        self,
        workflow_name: str,
        input: dict[str, Any],
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> V1WorkflowRunDetails:
        workflow_name = self.config.apply_namespace(workflow_name)
        run_id = run_db(
            lambda: services.trigger(
                workflow_name, input or None, metadata=additional_metadata or {}, priority=priority
            )
        )
        return self.get(str(run_id))

    async def aio_create(self, workflow_name: str, input: dict[str, Any], **kwargs: Any) -> V1WorkflowRunDetails:
        return await aio_db(lambda: self.create(workflow_name, input, **kwargs))

    # Acting --------------------------------------------------------------------------------------------------
    def cancel(self, run_id: str) -> None:
        run_db(lambda: _cancel(run_id))

    async def aio_cancel(self, run_id: str) -> None:
        await aio_db(lambda: _cancel(run_id))

    def replay(self, run_id: str) -> None:
        run_db(lambda: _replay(run_id))

    async def aio_replay(self, run_id: str) -> None:
        await aio_db(lambda: _replay(run_id))

    def reset_durable_task(self, task_external_id: str, node_id: int, branch_id: int) -> DurableTaskBranch:
        """Replay a durable task from node `node_id` of its log: the nodes before it answer from the record,
        the rest run again. Branches are not kept: the log from that node on is replaced."""
        if not valid_uuid(task_external_id):
            raise ValueError(f"{task_external_id!r} is not a run or task id")
        run_db(lambda: services.reset_durable_task(task_external_id, node_id))
        return DurableTaskBranch(node_id=node_id, branch_id=branch_id + 1)

    async def aio_reset_durable_task(self, task_external_id: str, node_id: int, branch_id: int) -> DurableTaskBranch:
        return await aio_db(lambda: self.reset_durable_task(task_external_id, node_id, branch_id))

    def bulk_cancel(self, opts: BulkCancelReplayOpts) -> None:
        run_db(lambda: _each(_cancel, _ids(opts)))

    async def aio_bulk_cancel(self, opts: BulkCancelReplayOpts) -> None:
        await aio_db(lambda: _each(_cancel, _ids(opts)))

    def bulk_replay(self, opts: BulkCancelReplayOpts) -> None:
        run_db(lambda: _each(_replay, _ids(opts)))

    async def aio_bulk_replay(self, opts: BulkCancelReplayOpts) -> None:
        await aio_db(lambda: _each(_replay, _ids(opts)))

    # Streaming -----------------------------------------------------------------------------------------------
    async def subscribe_to_stream(self, workflow_run_id: str) -> AsyncIterator[str]:
        """Yield the run's stream chunks in order, ending when the run has finished and all are read."""
        last_id = 0
        while True:
            chunks, status = await aio_db(functools.partial(_stream_after, workflow_run_id, last_id))
            for event_id, message in chunks:
                last_id = event_id
                yield message
            if not chunks and status in TERMINAL_RUN_STATUSES:
                return
            if not chunks:
                await asyncio.sleep(0.05)


def _stream_after(run_id: str, last_id: int) -> tuple[list[tuple[int, str]], str | None]:
    status = run_status(run_id)  # read before the chunks: a chunk written before the run ended is never missed
    chunks = [(event.id, event.message) for event in services.stream_after(UUID(run_id), last_id)]
    return chunks, status


_FINISHED_AS = {
    "COMPLETED": V1TaskEventType.FINISHED,
    "TIMED_OUT": V1TaskEventType.TIMED_OUT,
    "REASSIGNED": V1TaskEventType.REASSIGNED,
    "CANCELLED": V1TaskEventType.CANCELLED,
}
_RETRIED_AFTER = (V1TaskEventType.FAILED, V1TaskEventType.TIMED_OUT)


def _task_events(steps: list[StepView]) -> list[V1TaskEvent]:
    """Each attempt's STARTED and how it ended; an attempt that failed or timed out and was followed by another
    attempt of its task is then RETRYING (Hatchet's history of a retried task)."""
    by_step = services.attempts_of([s.id for s in steps])
    events: list[V1TaskEvent] = []
    for attempts in by_step.values():
        for attempt, following in zip(attempts, [*attempts[1:], None], strict=True):
            events.extend(_attempt_events(attempt, retried=following is not None))
    return sorted(events, key=lambda e: (e.timestamp, e.id))


def _attempt_events(attempt: AttemptView, *, retried: bool) -> list[V1TaskEvent]:
    def event(offset: int, at: datetime, kind: V1TaskEventType, message: str = "") -> V1TaskEvent:
        return V1TaskEvent(
            attempt.id * 3 + offset,
            str(attempt.step_id),
            at,
            kind,
            message,
            error_message=(attempt.error_message or None) if offset == 1 else None,  # on how it ended
            worker_id=str(attempt.worker_id) if attempt.worker_id else None,
            attempt=attempt.number + 1,
            retry_count=attempt.number,
        )

    events = [event(0, attempt.started_at, V1TaskEventType.STARTED)]
    if attempt.finished_at is None:
        return events
    kind = _FINISHED_AS.get(attempt.outcome, V1TaskEventType.FAILED)
    events.append(event(1, attempt.finished_at, kind, attempt.error_message))
    if retried and kind in _RETRIED_AFTER:
        events.append(event(2, attempt.finished_at, V1TaskEventType.RETRYING, "retrying"))
    return events


def _run_query(filters: RunFilter, spawned_by: str | None = None) -> RunQuery:
    return RunQuery(
        created_after=filters.since,
        created_until=filters.until or None,
        statuses=[str(getattr(s, "value", s)) for s in filters.statuses] if filters.statuses else None,
        workflows=filters.workflow_ids or None,
        metadata_contains=filters.additional_metadata or None,
        spawned_by=spawned_by,
    )


def _each(action: Callable[[str], None], ids: list[str]) -> None:
    for run_or_task_id in ids:
        action(run_or_task_id)


def _ids(opts: BulkCancelReplayOpts) -> list[str]:
    if opts.ids is not None:
        return [str(i) for i in opts.ids]
    assert opts.filters is not None
    return [str(i) for i in services.list_runs(_run_query(opts.filters)).ids()]


def _cancel(run_or_task_id: str) -> None:
    if not valid_uuid(run_or_task_id):
        raise ValueError(f"{run_or_task_id!r} is not a run or task id")
    services.cancel_run_or_step(run_or_task_id)


@dataclass(frozen=True)
class DurableTaskBranch:
    """What a reset of a durable task answers (Hatchet's V1BranchDurableTaskResponse)."""

    node_id: int
    branch_id: int


def _replay(run_or_task_id: str) -> None:
    if not valid_uuid(run_or_task_id):
        raise ValueError(f"{run_or_task_id!r} is not a run or task id")
    with contextlib.suppress(InvalidStateError):  # Hatchet does not replay tasks that are still running
        services.replay_run_or_step(run_or_task_id)
