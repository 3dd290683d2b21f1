"""sfp server's task API as a service: submit immediate, scheduled and recurring tasks, read their state,
cancel them, stop recurring ones, and fire recurring ones when beat says so."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule

from sfpserver.accounts.models import ApiToken
from sfpserver.engine import services as engine
from sfpserver.engine.services import (
    TERMINAL_RUN_STATUSES,
    FiringView,
    InvalidWorkflowError,
    RunStatus,
    RunView,
    StepStatus,
    UnknownWorkflowError,
)
from sfpserver.submissions import cron as crons
from sfpserver.submissions.exceptions import (
    InvalidSubmissionError,
    QuotaExceededError,
    TaskNotFoundError,
    TaskStateError,
)
from sfpserver.submissions.models import RunCreator, SubmittedTask, TaskKind
from sfpserver.submissions.payloads import check_data, check_json
from sfpserver.submissions.task_types import TaskType, known_types, task_type, workflow_for

logger = logging.getLogger(__name__)

_ENGINE_FIELDS = {
    "input": "data",
    "additional_metadata": "metadata",
    "priority": "priority",
    "continue_on_failure": "continueOnFailure",
}


@dataclass(frozen=True)
class Submission:
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    scheduled_for: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"
    options: dict[str, Any] = field(default_factory=dict)
    # Steps of this run that do not block their descendants when they fail (block or continue, an extension).
    continue_on_failure: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if self.cron is not None:
            return TaskKind.RECURRING
        return TaskKind.SCHEDULED if self.scheduled_for is not None else TaskKind.IMMEDIATE


def submit(submission: Submission, token: ApiToken | None) -> SubmittedTask:
    """Validate everything, then record the task (and its run, scheduled run or beat entry) in one transaction."""
    workflow = check(submission)
    if submission.kind == TaskKind.IMMEDIATE:
        task = prepare_immediate(submission, workflow)
        if task.plain:
            return record_immediate([(task, token)])[0]
        with _engine_errors(), transaction.atomic():
            return _submit_immediate(task, token)
    with _engine_errors(), transaction.atomic():
        if submission.kind == TaskKind.RECURRING:
            return _submit_recurring(submission, workflow, token)
        return _submit_scheduled(submission, workflow, token)


def check(submission: Submission) -> str:
    """The checks of a submission that need no engine: its type, the JSON of its parts, its type's input model. Its
    workflow's name; InvalidSubmissionError naming the field at fault otherwise."""
    found = _task_type(submission.type)
    check_json("data", submission.data)
    check_json("metadata", submission.metadata)
    for name, value in submission.options.items():
        check_json(name, value)
    if submission.cron is not None and submission.scheduled_for is not None:
        raise InvalidSubmissionError(
            "recurrenceConfig", "a task is either scheduled (scheduledFor) or recurring, not both"
        )
    check_data(found, submission.data)
    return found.workflow


@dataclass(frozen=True)
class ImmediateTask:
    """An immediate submission that passed every check, with its run built (not recorded yet)."""

    submission: Submission
    workflow: str
    run: engine.Prepared

    @property
    def plain(self) -> bool:
        """Its run needs no gate, condition or idempotency key: `record_immediate` can record it."""
        return self.run.plain


def prepare_immediate(submission: Submission, workflow: str) -> ImmediateTask:
    """The engine's checks of an immediate submission that passed `check`, and its run, built."""
    with _engine_errors():
        run = engine.prepare_trigger(
            workflow,
            submission.data,
            metadata=submission.metadata,
            priority=submission.priority,
            continue_on_failure=submission.continue_on_failure,
        )
    return ImmediateTask(submission, workflow, run)


def record_immediate(tasks: list[tuple[ImmediateTask, ApiToken | None]]) -> list[SubmittedTask]:
    """Record immediate tasks whose runs are plain (ImmediateTask.plain), with their runs and who created them, in
    one transaction and one round trip however many; their runs' first steps are published after commit."""
    rows: list[RunCreator | SubmittedTask] = []
    recorded = []
    for task, token in tasks:
        run_id, submission = task.run.run.id, task.submission
        rows.append(RunCreator(run_id=run_id, token=token))
        recorded.append(
            SubmittedTask(
                id=run_id,
                type=submission.type,
                workflow_name=task.workflow,
                metadata=submission.metadata,
                priority=submission.priority,
                options=submission.options,
                created_by=token,
                kind=TaskKind.IMMEDIATE,
                run_id=run_id,
            )
        )
    engine.trigger_prepared([task.run for task, _ in tasks], also=[*rows, *recorded])
    for row in recorded:
        row._state.adding, row._state.db = False, DEFAULT_DB_ALIAS  # as loaded: saving it again updates it
    return recorded


def _task_type(name: str) -> TaskType:
    found = task_type(name)
    if found is None:
        raise InvalidSubmissionError("type", f"unknown task type {name!r}; known types: {', '.join(known_types())}")
    return found


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Name the API's fields in the engine's refusals."""
    try:
        yield
    except UnknownWorkflowError as exc:
        raise InvalidSubmissionError(
            "type", f"the workflow of this task type is not registered: {exc.problem}"
        ) from None
    except InvalidWorkflowError as exc:
        raise InvalidSubmissionError(_ENGINE_FIELDS.get(exc.field, exc.field), exc.problem) from None


def _task(submission: Submission, workflow: str, token: ApiToken | None, **fields: Any) -> SubmittedTask:
    return SubmittedTask.objects.create(
        type=submission.type,
        workflow_name=workflow,
        metadata=submission.metadata,
        priority=submission.priority,
        options=submission.options,
        created_by=token,
        **fields,
    )


def _submit_immediate(task: ImmediateTask, token: ApiToken | None) -> SubmittedTask:
    """An immediate task whose run is not plain (a gate, a condition, an idempotency key), in submit's transaction."""
    run_id = engine.trigger_prepared([task.run])[0]
    RunCreator.objects.create(run_id=run_id, token=token)
    return _task(task.submission, task.workflow, token, id=run_id, kind=TaskKind.IMMEDIATE, run_id=run_id)


def _submit_scheduled(submission: Submission, workflow: str, token: ApiToken | None) -> SubmittedTask:
    assert submission.scheduled_for is not None
    scheduled_id = engine.schedule_run(
        workflow,
        submission.data,
        submission.scheduled_for,
        metadata=submission.metadata,
        priority=submission.priority,
        continue_on_failure=submission.continue_on_failure,
    )
    return _task(submission, workflow, token, id=scheduled_id, kind=TaskKind.SCHEDULED, scheduled_run_id=scheduled_id)


def _submit_recurring(submission: Submission, workflow: str, token: ApiToken | None) -> SubmittedTask:
    assert submission.cron is not None
    expression = crons.parse_cron(submission.cron, "recurrenceConfig.cron")
    crons.check_timezone(submission.timezone, "recurrenceConfig.timezone")
    prepare_immediate(submission, workflow)  # each firing's trigger must pass: checked now, recorded by the firings
    _check_recurring_quota(token)
    task = _task(submission, workflow, token, kind=TaskKind.RECURRING, data=submission.data)
    periodic = engine.register_cron(
        f"task {submission.type} {task.id}",
        workflow,
        str(expression),
        input=submission.data,
        metadata=submission.metadata,
        priority=submission.priority,
        tz=submission.timezone,
        continue_on_failure=list(submission.continue_on_failure),
    )
    task.periodic_task, task.schedule_name = periodic, periodic.name
    task.save(update_fields=["periodic_task", "schedule_name"])
    return task


def active_recurring(token: ApiToken) -> int:
    """The token's recurring tasks that still fire or may again (not stopped, their schedule not deleted)."""
    return SubmittedTask.objects.filter(
        created_by=token, kind=TaskKind.RECURRING, stopped_at__isnull=True, periodic_task__isnull=False
    ).count()


def _check_recurring_quota(token: ApiToken | None) -> None:
    """At most API_MAX_RECURRING_PER_TOKEN active recurring tasks per token. The token's row is locked until
    the submission commits, so two concurrent submissions cannot both take the last place."""
    if token is None:
        return
    list(ApiToken.objects.select_for_update().filter(pk=token.pk).values_list("pk", flat=True))
    limit = settings.API_MAX_RECURRING_PER_TOKEN
    if active_recurring(token) >= limit:
        raise QuotaExceededError(
            f"this token already has {limit} active recurring tasks, the most allowed "
            "(API_MAX_RECURRING_PER_TOKEN); stop one (POST /sfp/api/tasks/{operationId}/stop-recurring) first"
        )


def crontab_schedule(cron: crons.Cron, tz: str) -> CrontabSchedule:
    fields = {
        "minute": cron.minute,
        "hour": cron.hour,
        "day_of_month": cron.day_of_month,
        "month_of_year": cron.month_of_year,
        "day_of_week": cron.day_of_week,
        "timezone": tz,
    }
    found = CrontabSchedule.objects.filter(**fields).first()
    return found if found is not None else CrontabSchedule.objects.create(**fields)


# --- state ----------------------------------------------------------------------------------------------------


def current_run(task: SubmittedTask) -> RunView | None:
    """The run a task's state is read from: its run, its scheduled run's, or a recurring task's latest."""
    if task.kind == TaskKind.IMMEDIATE:
        return engine.get_run(task.run_id) if task.run_id is not None else None
    if task.kind == TaskKind.SCHEDULED:
        scheduled = engine.get_scheduled_run(task.scheduled_run_id) if task.scheduled_run_id is not None else None
        return engine.get_run(scheduled.run_id) if scheduled is not None and scheduled.run_id is not None else None
    latest = firings(task, 1)
    return engine.get_run(latest[0].run_id) if latest and latest[0].run_id is not None else None


def firings(task: SubmittedTask, limit: int | None = None) -> list[FiringView]:
    """The firings of a recurring task that started a run, latest first."""
    return engine.latest_firings([task.schedule_name], limit)


def _scheduled_status(task: SubmittedTask) -> str | None:
    """The status of a scheduled task's engine row; None when it is gone."""
    scheduled = engine.get_scheduled_run(task.scheduled_run_id) if task.scheduled_run_id is not None else None
    return scheduled.status if scheduled is not None else None


def as_task(run: RunView) -> SubmittedTask:
    """An unsaved task standing for a run started outside the task API."""
    names = {workflow: name for name in known_types() if (workflow := workflow_for(name))}
    return SubmittedTask(
        id=run.id,
        type=names.get(run.workflow_name, run.workflow_name),
        workflow_name=run.workflow_name,
        kind=TaskKind.IMMEDIATE,
        run_id=run.id,
    )


# --- cancel and stop --------------------------------------------------------------------------------------------


def cancel(task: SubmittedTask) -> None:
    """Cancel a pending or active task (for a recurring task, its current execution only)."""
    scheduled_id = task.scheduled_run_id if task.kind == TaskKind.SCHEDULED else None
    if scheduled_id is not None and engine.cancel_scheduled_run(scheduled_id):
        return
    run = current_run(task)
    if run is None:
        raise TaskStateError(_nothing_to_cancel(task))
    if run.status in TERMINAL_RUN_STATUSES or not engine.cancel_run(run.id):
        status = engine.run_status(run.id) or run.status
        raise TaskStateError(f"task {task.id} is {status.lower()}; only pending or active tasks can be cancelled")


def _nothing_to_cancel(task: SubmittedTask) -> str:
    if task.kind == TaskKind.RECURRING:
        return f"no execution of recurring task {task.id} is pending or active; stop-recurring stops future runs"
    if task.kind == TaskKind.SCHEDULED and _scheduled_status(task) == "CANCELLED":
        return f"task {task.id} is cancelled; only pending or active tasks can be cancelled"
    return f"task {task.id} has no run to cancel any more"


def stop_recurring(task: SubmittedTask) -> None:
    """Stop future firings of a recurring task; a running execution goes on (cancel it with DELETE)."""
    if task.kind != TaskKind.RECURRING:
        raise TaskStateError(f"task {task.id} is {task.kind}, not recurring")
    with transaction.atomic():
        if task.stopped_at is None:
            task.stopped_at = timezone.now()
            task.save(update_fields=["stopped_at"])
        if task.periodic_task is not None and task.periodic_task.enabled:
            task.periodic_task.enabled = False
            task.periodic_task.save()


def recurring_instances(task: SubmittedTask, limit: int) -> list[tuple[FiringView, RunView]]:
    """Each firing of a recurring task with the run it started, latest first."""
    if task.kind != TaskKind.RECURRING:
        raise TaskStateError(f"task {task.id} is {task.kind}, not recurring")
    shown = firings(task, limit)
    runs = engine.get_runs([firing.run_id for firing in shown if firing.run_id is not None])
    return [(firing, runs[firing.run_id]) for firing in shown if firing.run_id in runs]


# --- state of a task -------------------------------------------------------------------------------------------

TASK_STATUS = {
    RunStatus.QUEUED: "pending",
    RunStatus.RUNNING: "active",
    RunStatus.COMPLETED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class TaskState:
    status: str
    progress: int
    error: dict[str, str] | None = None
    result: Any = None
    run_id: UUID | None = None  # the run the task started (a scheduled or recurring task's, once it fired)
    continued_failures: list[str] = field(default_factory=list)  # failed steps it continued past


def task_state(task: SubmittedTask) -> TaskState:
    """sfp server's view of a task: status, progress 0-100, error {message, stack} and result."""
    run = current_run(task)
    if run is None:
        return _state_without_run(task)
    status = TASK_STATUS[RunStatus(run.status)]
    error = run_error(run) if status in ("failed", "cancelled") else None
    output = run.output if status == "completed" else None
    return TaskState(status, engine.run_progress_of(run), error, output, run.id, list(run.continued_failures))


def _state_without_run(task: SubmittedTask) -> TaskState:
    if task.kind == TaskKind.SCHEDULED:
        scheduled = _scheduled_status(task)
        if scheduled == "CANCELLED":
            return TaskState("cancelled", 0, {"message": "the task was cancelled before it started", "stack": ""})
        if scheduled is None:
            raise TaskNotFoundError(task.id)
    if task.kind == TaskKind.RECURRING and task.stopped_at is not None:
        return TaskState("cancelled", 0, {"message": "the recurring task was stopped before it first ran", "stack": ""})
    if task.kind == TaskKind.IMMEDIATE:
        raise TaskNotFoundError(task.id)  # its run was pruned: results are kept for a limited time
    return TaskState("pending", 0)


def run_error(run: RunView) -> dict[str, str]:
    """The message of a failed or cancelled run, and the traceback of the last attempt of a step that failed for
    good (none for a cancelled run: an earlier, retried attempt's traceback is not why it ended)."""
    message = run.error
    if not message:
        ended = [s for s in engine.steps_of([run.id]) if s.status in (StepStatus.FAILED, StepStatus.CANCELLED)]
        ended.sort(key=lambda s: (s.finished_at is None, s.finished_at or s.created_at))
        message = next((s.error for s in ended if s.error), "")
    return {"message": message or f"the run is {run.status.lower()}", "stack": engine.last_run_traceback(run.id)}
