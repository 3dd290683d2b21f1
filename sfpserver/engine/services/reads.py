"""The engine's read side for everything outside it: runs with their steps and attempts, outcomes, progress,
events after an id, queue depth, workers, scheduled runs, crons and definitions. Each function reads a few
bulk queries and returns the plain dataclasses of `views`, never a model instance."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron, sql, statements
from sfpserver.engine.models import (
    Attempt,
    CronFiring,
    EventKind,
    RunEvent,
    ScheduledRun,
    StepRun,
    StepStatus,
    StepWait,
    Worker,
    WorkerStatus,
    WorkflowDefinition,
    WorkflowPause,
    WorkflowRun,
)
from sfpserver.engine.progress import latest_percents, run_progress
from sfpserver.engine.services.views import (
    DURABLE_WAITS,
    AttemptView,
    CronView,
    DefinitionView,
    EventView,
    FiringView,
    LeaseFacts,
    PauseView,
    QueueCount,
    RunDetail,
    RunningStepView,
    RunView,
    ScheduledRunView,
    StepView,
    WorkerView,
)
from sfpserver.engine.sql import Rows
from sfpserver.engine.statements import Statement

RUN_FIELDS = tuple(f for f in RunView.__dataclass_fields__)
EVENT_FIELDS = tuple(EventView.__dataclass_fields__)
WORKER_FIELDS = tuple(WorkerView.__dataclass_fields__)
ATTEMPT_FIELDS = tuple(AttemptView.__dataclass_fields__)
_STEP_COLUMNS = tuple(f for f in StepView.__dataclass_fields__ if f not in ("worker_name", "attempts", "wait_events"))
Ids = Iterable[UUID | str] | QuerySet[Any]


def _id(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


# --- runs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunQuery:
    """Filters of a run list. `within` narrows it to runs found in at least one of a few id sets (lists, or
    subqueries of ids such as a caller's visibility); None means every run."""

    workflows: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    created_until: datetime | None = None
    metadata_contains: dict[str, Any] | None = None
    metadata_equals: Sequence[tuple[str, str]] = ()
    parent_step_id: UUID | str | None = None
    # Runs spawned by this step, or by any step of this run (Hatchet files a child under either id).
    spawned_by: UUID | str | None = None
    within: Sequence[Any] | None = None


def _within(runs: QuerySet[WorkflowRun], within: Sequence[Any] | None) -> QuerySet[WorkflowRun]:
    if within is None:
        return runs
    found = Q(pk__in=[])
    for ids in within:
        found |= Q(id__in=ids)
    return runs.filter(found)


def _runs(query: RunQuery) -> QuerySet[WorkflowRun]:
    runs = _within(WorkflowRun.objects.all(), query.within)
    if query.workflows is not None:
        runs = runs.filter(workflow_name__in=list(query.workflows))
    if query.statuses is not None:
        runs = runs.filter(status__in=list(query.statuses))
    if query.created_after is not None:
        runs = runs.filter(created_at__gte=query.created_after)
    if query.created_before is not None:
        runs = runs.filter(created_at__lt=query.created_before)
    if query.created_until is not None:
        runs = runs.filter(created_at__lte=query.created_until)
    if query.parent_step_id is not None:
        runs = runs.filter(parent_step_id=_id(query.parent_step_id))
    if query.spawned_by is not None:
        runs = runs.filter(Q(parent_step_id=_id(query.spawned_by)) | Q(parent_step__run_id=_id(query.spawned_by)))
    for key, value in (query.metadata_contains or {}).items():
        runs = runs.filter(additional_metadata__contains={key: value})
    for index, (key, value) in enumerate(query.metadata_equals):
        alias = f"metadata_{index}"
        runs = runs.alias(**{alias: KeyTextTransform(key, "additional_metadata")}).filter(**{alias: value})
    return runs


class RunList:
    """A lazy, newest-first list of runs that a paginator can count and slice."""

    def __init__(self, query: RunQuery) -> None:
        self._runs = _runs(query).order_by("-created_at", "id")

    def count(self) -> int:
        return self._runs.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[RunView]:
        return [RunView(**row) for row in self._runs.values(*RUN_FIELDS)[index]]

    def ids(self) -> list[UUID]:
        return list(self._runs.values_list("id", flat=True))


def list_runs(query: RunQuery) -> RunList:
    return RunList(query)


def run_ids(query: RunQuery) -> QuerySet[Any]:
    """A subquery of the ids of matching runs (to narrow another read with)."""
    return _runs(query).values("id")


def get_run(run_id: UUID | str) -> RunView | None:
    row = WorkflowRun.objects.filter(id=run_id).values(*RUN_FIELDS).first()
    return RunView(**row) if row is not None else None


def get_runs(ids: Ids) -> dict[UUID, RunView]:
    return {row["id"]: RunView(**row) for row in WorkflowRun.objects.filter(id__in=ids).values(*RUN_FIELDS)}


def run_exists(run_id: UUID | str, within: Sequence[Any] | None = None) -> bool:
    return _within(WorkflowRun.objects.filter(id=run_id), within).exists()


def visible_run(run_id: UUID | str, within: Sequence[Any] | None = None) -> RunView | None:
    """The run, if it is among `within` (see RunQuery)."""
    row = _within(WorkflowRun.objects.filter(id=run_id), within).values(*RUN_FIELDS).first()
    return RunView(**row) if row is not None else None


def run_status(run_id: UUID | str) -> str | None:
    return WorkflowRun.objects.filter(id=run_id).values_list("status", flat=True).first()


def run_output(run_id: UUID | str) -> Any:
    return WorkflowRun.objects.filter(id=run_id).values_list("output", flat=True).first()


def run_progress_of(run: RunView) -> int:
    """0-100: completed steps count whole, running steps by their latest progress event."""
    return run_progress(run)  # type: ignore[arg-type]  # reads only .id and .status


def run_detail(run_id: UUID | str, *, with_attempts: bool = True) -> RunDetail | None:
    run = get_run(run_id)
    if run is None:
        return None
    return RunDetail(run, tuple(steps_of([run.id], with_attempts=with_attempts)), run_progress_of(run))


def children_count(step_id: UUID | str) -> int:
    return WorkflowRun.objects.filter(parent_step_id=_id(step_id)).count()


# --- steps and attempts ---------------------------------------------------------------------------------------


def steps_of(run_ids: Ids, *, with_attempts: bool = False, status: str | None = None) -> list[StepView]:
    """The steps of these runs, oldest first (then by name)."""
    steps = StepRun.objects.filter(run_id__in=run_ids)
    if status is not None:
        steps = steps.filter(status=status)
    rows = list(steps.order_by("created_at", "name").values(*_STEP_COLUMNS, "worker__name"))
    attempts = attempts_of([row["id"] for row in rows]) if with_attempts else {}
    events = _wait_events([row["id"] for row in rows if row["waiting_for"] in DURABLE_WAITS])
    return [_step(row, tuple(attempts.get(row["id"], ())), events.get(row["id"], ())) for row in rows]


def _wait_events(step_ids: list[UUID]) -> dict[UUID, tuple[str, ...]]:
    """The event keys each step's open durable wait listens for."""
    if not step_ids:
        return {}
    rows = StepWait.objects.filter(step_id__in=step_ids, satisfied_at__isnull=True).values_list("step_id", "event_keys")
    found: dict[UUID, tuple[str, ...]] = {}
    for step_id, keys in rows:
        found[step_id] = tuple(sorted({*found.get(step_id, ()), *keys}))
    return found


def _step(row: dict[str, Any], attempts: tuple[AttemptView, ...], events: tuple[str, ...] = ()) -> StepView:
    worker_name = row.pop("worker__name")
    return StepView(**row, worker_name=worker_name, attempts=attempts, wait_events=events)


def get_step(step_id: UUID | str) -> StepView | None:
    row = StepRun.objects.filter(id=step_id).values(*_STEP_COLUMNS, "worker__name").first()
    return _step(row, ()) if row is not None else None


def step_in_run(step_id: UUID | str, run_id: UUID | str) -> bool:
    return StepRun.objects.filter(id=step_id, run_id=_id(run_id)).exists()


def run_of_step(step_id: UUID | str) -> UUID | None:
    return StepRun.objects.filter(id=step_id).values_list("run_id", flat=True).first()


def attempts_of(step_ids: Ids) -> dict[UUID, list[AttemptView]]:
    """Each step's attempts, in order."""
    by_step: dict[UUID, list[AttemptView]] = defaultdict(list)
    rows = Attempt.objects.filter(step_id__in=step_ids).order_by("step_id", "number").values(*ATTEMPT_FIELDS)
    for row in rows:
        by_step[row["step_id"]].append(AttemptView(**row))
    return by_step


def last_traceback(step_id: UUID | str) -> str:
    found = Attempt.objects.filter(step_id=_id(step_id)).order_by("-number").values_list("traceback", flat=True).first()
    return found or ""


def last_run_traceback(run_id: UUID | str) -> str:
    """The traceback of the last failed attempt of a step of the run that failed for good (a step that was
    retried and then cancelled, or completed, is not why the run ended)."""
    found = (
        Attempt.objects.filter(step__run_id=_id(run_id), step__status=StepStatus.FAILED)
        .exclude(traceback="")
        .order_by("-finished_at", "-id")
        .values_list("traceback", flat=True)
        .first()
    )
    return found or ""


def lock_step_for_lease(step_id: UUID | str) -> LeaseFacts | None:
    """The step's lease facts, its row locked (FOR NO KEY UPDATE) until the caller's transaction ends, so that
    no claim, finish or cancel changes them meanwhile. Call it inside `transaction.atomic()`."""
    fields = tuple(LeaseFacts.__dataclass_fields__)
    row = StepRun.objects.select_for_update(no_key=True).filter(id=step_id).values(*fields).first()
    return LeaseFacts(**row) if row is not None else None


def step_percents(run_ids: Ids) -> dict[UUID, tuple[int | None, float]]:
    """Each step's latest reported progress: step id -> (the attempt that reported it, percent)."""
    return latest_percents(list(run_ids))


def running_steps(worker_ids: Ids, within: Sequence[Any] | None = None) -> list[RunningStepView]:
    """The RUNNING steps of these workers, oldest start first (`within`: only runs among these ids)."""
    steps = StepRun.objects.filter(worker_id__in=worker_ids, status=StepStatus.RUNNING)
    if within is not None:
        steps = steps.filter(run_id__in=_within(WorkflowRun.objects.all(), within).values("id"))
    rows = steps.order_by("started_at").values("id", "run_id", "worker_id", "name", "attempt", "started_at")
    return [
        RunningStepView(r["id"], r["run_id"], r["worker_id"], r["name"], r["attempt"], r["started_at"]) for r in rows
    ]


# --- events ---------------------------------------------------------------------------------------------------


def events_after(
    run_id: UUID | str, after: int, limit: int, *, kind: str | None = None, step_id: UUID | str | None = None
) -> list[EventView]:
    """The run's events with an id above `after`, in order, at most `limit`."""
    events = RunEvent.objects.filter(run_id=_id(run_id), id__gt=after)
    if kind is not None:
        events = events.filter(kind=kind)
    if step_id is not None:
        events = events.filter(step_id=_id(step_id))
    return [EventView(**row) for row in events.order_by("id").values(*EVENT_FIELDS)[:limit]]


def stream_after(run_id: UUID | str, after: int, limit: int = 500) -> list[EventView]:
    return events_after(run_id, after, limit, kind=EventKind.STREAM)


def any_event(run_id: UUID | str, kind: str, message_startswith: str) -> bool:
    """Whether the run has an event of this kind whose message starts so."""
    return RunEvent.objects.filter(run_id=_id(run_id), kind=kind, message__startswith=message_startswith).exists()


def recent_events(run_id: UUID | str, limit: int) -> list[EventView]:
    """The run's last `limit` events, oldest first."""
    rows = RunEvent.objects.filter(run_id=_id(run_id)).order_by("-id").values(*EVENT_FIELDS)[:limit]
    return [EventView(**row) for row in reversed(rows)]


# --- workers and queues ---------------------------------------------------------------------------------------


def list_workers(*, pool: str | None = None, status: str | None = None) -> list[WorkerView]:
    workers = Worker.objects.order_by("pool", "name")
    if pool is not None:
        workers = workers.filter(pool=pool)
    if status is not None:
        workers = workers.filter(status=status)
    return [WorkerView(**row) for row in workers.values(*WORKER_FIELDS)]


def get_worker(worker_id: UUID | str) -> WorkerView | None:
    row = Worker.objects.filter(id=worker_id).values(*WORKER_FIELDS).first()
    return WorkerView(**row) if row is not None else None


def workers_newest_first() -> list[WorkerView]:
    return [WorkerView(**row) for row in Worker.objects.order_by("-started_at").values(*WORKER_FIELDS)]


def any_worker(status: str) -> bool:
    return Worker.objects.filter(status=status).exists()


def live_workers_by_pool(heard_since: datetime) -> dict[str, int]:
    """ACTIVE workers heard from since `heard_since`, counted per pool (pools without one are absent)."""
    rows = (
        Worker.objects.filter(status=WorkerStatus.ACTIVE, last_heartbeat__gte=heard_since)
        .values("pool")
        .annotate(live=Count("id"))
    )
    return {row["pool"]: row["live"] for row in rows}


def queued_counts() -> list[QueueCount]:
    """Queued steps per queue: ready (waiting for the broker or a worker) or waiting (backoff, gates)."""
    from sfpserver.engine import waits

    rows = (
        StepRun.objects.filter(status=StepStatus.QUEUED)
        .values("queue")
        .annotate(ready=Count("id", filter=waits.READY.q()), waiting=Count("id", filter=~waits.READY.q()))
    )
    return [QueueCount(row["queue"], row["ready"], row["waiting"]) for row in rows]


# --- schedules, crons, definitions ----------------------------------------------------------------------------


def get_scheduled_run(scheduled_id: UUID | str) -> ScheduledRunView | None:
    row = ScheduledRun.objects.filter(id=scheduled_id).values(*ScheduledRunView.__dataclass_fields__).first()
    return ScheduledRunView(**row) if row is not None else None


def list_scheduled_runs(workflow_name: str | None = None) -> list[ScheduledRunView]:
    rows = ScheduledRun.objects.all().order_by("trigger_at")
    if workflow_name:
        rows = rows.filter(workflow_name=workflow_name)
    return [ScheduledRunView(**row) for row in rows.values(*ScheduledRunView.__dataclass_fields__)]


def list_crons(workflow_name: str | None = None) -> list[CronView]:
    found = []
    for task in PeriodicTask.objects.filter(task=cron.CRON_TASK).select_related("crontab"):
        params = json.loads(task.kwargs or "{}")
        if workflow_name and params.get("workflow") != workflow_name:
            continue
        found.append(_cron(task, params))
    return found


def _cron(task: PeriodicTask, params: dict[str, Any]) -> CronView:
    return CronView(
        id=task.id,
        name=task.name,
        workflow_name=params.get("workflow", ""),
        expression=cron.expression_of(task),
        timezone=str(task.crontab.timezone) if task.crontab is not None else "UTC",
        enabled=task.enabled,
        input=params.get("input"),
        additional_metadata=params.get("metadata") or {},
        priority=params.get("priority"),
        date_changed=task.date_changed,
        periodic_task_id=task.id,
    )


def list_definitions() -> list[DefinitionView]:
    rows = WorkflowDefinition.objects.order_by("name").values("name", "spec", "updated_at")
    return [DefinitionView(**row) for row in rows]


def get_definition(name: str) -> DefinitionView | None:
    row = WorkflowDefinition.objects.filter(name=name).values("name", "spec", "updated_at").first()
    return DefinitionView(**row) if row is not None else None


def workflow_pauses(names: Any = None) -> dict[str, PauseView]:
    """The paused workflows (of `names`, when given), by name."""
    rows = WorkflowPause.objects.all() if names is None else WorkflowPause.objects.filter(workflow_name__in=names)
    fields = ("workflow_name", "queue_ttl_seconds", "cron_behavior", "scheduled_behavior", "paused_at")
    return {row["workflow_name"]: PauseView(**row) for row in rows.values(*fields)}


def definition_names() -> list[str]:
    return list(WorkflowDefinition.objects.order_by("name").values_list("name", flat=True))


def latest_firings(schedule_names: Any, limit: int | None = None) -> list[FiringView]:
    """Firings of these schedules that started a run, latest first."""
    rows = CronFiring.objects.filter(schedule_name__in=schedule_names, run_id__isnull=False).order_by("-fire_time")
    values = rows.values("schedule_name", "fire_time", "run_id")
    return [FiringView(**row) for row in (values[:limit] if limit is not None else values)]


def fired_run_ids(schedule_names: Any) -> QuerySet[Any]:
    """A subquery of the ids of the runs these schedules started."""
    return CronFiring.objects.filter(schedule_name__in=schedule_names, run_id__isnull=False).values("run_id")


def schedules_that_started(run_id: UUID | str) -> QuerySet[Any]:
    """A subquery of the names of the schedules whose firing started this run."""
    return CronFiring.objects.filter(run_id=run_id).values("schedule_name")


def queue_depth_by_state() -> list[tuple[str, str, int]]:
    """(queue, state, steps) for every queue with waiting steps; state is what the step waits for, as
    sfp_queue_depth reports it (statements.QUEUE_DEPTH, through the wait-state predicates)."""
    return [(row["queue"], row["state"], row["steps"]) for row in sql.rows(statements.QUEUE_DEPTH)]


# --- /metrics: rows by name (statements.py, section "/metrics") ------------------------------------------------
# The windowed ones read the rows of the last `window_seconds` (METRICS_WINDOW_SECONDS) through time indexes.


def _metrics_rows(statement: Statement, window_seconds: float | None = None) -> Rows:
    return sql.rows(statement, None if window_seconds is None else {"window": window_seconds})


def drain_state() -> Rows:
    """The engine's one state row, if any: draining, drain_seconds (since the drain began; None when none did)."""
    return _metrics_rows(statements.ENGINE_DRAIN)


def live_workers() -> Rows:
    """ACTIVE and PAUSED workers: name, pool, status, queues, slots, heartbeat_age (seconds)."""
    return _metrics_rows(statements.LIVE_WORKERS)


def workers_gone_within(window_seconds: float) -> Rows:
    """DEAD and STOPPED workers last heard of within the window: pool, status, workers (a count)."""
    return _metrics_rows(statements.WORKERS_GONE, window_seconds)


def running_steps_by_pool() -> Rows:
    """RUNNING steps per pool of the worker that runs them: pool, steps."""
    return _metrics_rows(statements.BUSY_BY_POOL)


def durable_waiting_by_queue() -> Rows:
    """Durable tasks evicted at a wait, per queue and what they wait on: queue, waiting_on, steps, next_due."""
    return _metrics_rows(statements.DURABLE_WAITING)


def running_steps_by_queue() -> Rows:
    """RUNNING steps per queue: queue, steps."""
    return _metrics_rows(statements.RUNNING_BY_QUEUE)


def pending_steps_by_queue() -> Rows:
    """PENDING steps of unfinished runs per queue: queue, steps."""
    return _metrics_rows(statements.PENDING_BY_QUEUE)


def unfinished_runs_by_workflow() -> Rows:
    """QUEUED and RUNNING runs: workflow, status, runs (a count)."""
    return _metrics_rows(statements.UNFINISHED_RUNS)


def runs_finished_within(window_seconds: float) -> Rows:
    """Runs finished within the window: workflow, status, runs (a count)."""
    return _metrics_rows(statements.RUNS_FINISHED, window_seconds)


def attempts_finished_within(window_seconds: float) -> Rows:
    """Attempts ended within the window, ordered by workflow, pool, outcome: attempts (a count), seconds (their
    summed run time) and buckets (cumulative counts over STEP_DURATION_BOUNDS)."""
    return _metrics_rows(statements.ATTEMPTS_FINISHED, window_seconds)


def attempts_started_within(window_seconds: float) -> Rows:
    """Attempts started within the window, ordered by workflow, pool: retries (of a failed or timed-out attempt),
    attempts, seconds (their summed queue wait) and buckets (cumulative counts over QUEUE_WAIT_BOUNDS)."""
    return _metrics_rows(statements.ATTEMPTS_STARTED, window_seconds)
