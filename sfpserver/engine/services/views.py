"""The read models of the engine's front door: plain frozen dataclasses, built from rows by field name.

Nothing outside the engine holds a model instance of the engine; what it reads arrives as one of these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AttemptView:
    id: int
    step_id: UUID
    number: int
    outcome: str
    worker_id: UUID | None
    worker_name: str
    started_at: datetime
    finished_at: datetime | None
    error_type: str
    error_message: str
    traceback: str


@dataclass(frozen=True)
class StepView:
    id: UUID
    run_id: UUID
    name: str
    action: str
    kind: str
    status: str
    parents: list[str]
    queue: str
    attempt: int
    retries: int
    app_retry_count: int
    internal_retry_count: int
    error: str
    error_type: str
    output: Any
    worker_id: UUID | None
    worker_name: str | None
    created_at: datetime
    queued_at: datetime | None
    available_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    # What an unfinished step waits for (engine/waits.py) and until when; `wait_events`: the event keys an
    # evicted durable task's open wait listens for (engine/durable.py).
    waiting_for: str | None = None
    due_at: datetime | None = None
    attempts: tuple[AttemptView, ...] = ()
    continue_on_failure: bool = False  # block or continue (engine/settling.py)
    wait_events: tuple[str, ...] = ()

    @property
    def durable_wait(self) -> bool:
        """An evicted durable task waiting for its sleep, its events, or both: neither queued nor running."""
        return self.waiting_for in DURABLE_WAITS


DURABLE_WAITS = ("sleep", "event", "condition")


@dataclass(frozen=True)
class RunView:
    id: UUID
    workflow_name: str
    status: str
    input: Any
    output: Any
    error: str
    additional_metadata: dict[str, Any]
    priority: int
    parent_step_id: UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Steps that failed for good and were continued past (block or continue, engine/settling.py): a run can be
    # COMPLETED with some.
    continued_failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunDetail:
    """A run with its steps (oldest first) and, when asked for, each step's attempts."""

    run: RunView
    steps: tuple[StepView, ...]
    progress: int


@dataclass(frozen=True)
class EventView:
    id: int
    run_id: UUID
    step_id: UUID | None
    attempt: int | None
    kind: str
    message: str
    data: Any
    created_at: datetime


@dataclass(frozen=True)
class WorkerView:
    id: UUID
    name: str
    pool: str
    queues: list[str]
    hostname: str
    pid: int
    slots: int
    labels: dict[str, Any]
    status: str
    started_at: datetime
    last_heartbeat: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class RunningStepView:
    step_id: UUID
    run_id: UUID
    worker_id: UUID
    step: str
    attempt: int
    started_at: datetime | None


@dataclass(frozen=True)
class QueueCount:
    """QUEUED steps of a queue in Postgres: ready (due now) and waiting (a backoff or a gate)."""

    queue: str
    ready: int
    waiting: int


@dataclass(frozen=True)
class ScheduledRunView:
    id: UUID
    workflow_name: str
    trigger_at: datetime
    input: Any
    additional_metadata: dict[str, Any]
    priority: int | None
    status: str
    run_id: UUID | None
    created_at: datetime


@dataclass(frozen=True)
class CronView:
    """A cron entry the engine fires (a django-celery-beat PeriodicTask with the engine's task)."""

    id: int
    name: str
    workflow_name: str
    expression: str
    timezone: str
    enabled: bool
    input: Any
    additional_metadata: dict[str, Any]
    priority: int | None
    date_changed: datetime | None
    periodic_task_id: int = field(default=0)


@dataclass(frozen=True)
class DefinitionView:
    name: str
    spec: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True)
class PauseView:
    """A paused workflow: how long its held runs may wait, and what its crons and scheduled runs do."""

    workflow_name: str
    queue_ttl_seconds: float
    cron_behavior: str
    scheduled_behavior: str
    paused_at: datetime


@dataclass(frozen=True)
class FiringView:
    schedule_name: str
    fire_time: datetime
    run_id: UUID | None


@dataclass(frozen=True)
class LeaseFacts:
    """What the vault checks a credential lease against: the step row as locked in the vault's transaction."""

    id: UUID
    run_id: UUID
    name: str
    status: str
    attempt: int
    worker_id: UUID | None
    lease_hash: str
    args: dict[str, Any]
