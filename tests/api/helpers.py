"""Putting runs in a given state without workers (inside a test's transaction), and counting rows."""

from __future__ import annotations

from typing import Any

from django_celery_beat.models import CrontabSchedule, PeriodicTask

from sfpserver.engine import events, lifecycle
from sfpserver.engine.lifecycle import ErrorInfo
from sfpserver.engine.models import CronFiring, EventKind, RunEvent, ScheduledRun, StepRun, WorkflowRun
from sfpserver.submissions.models import RunCreator, SubmittedTask

COUNTED = (
    WorkflowRun,
    StepRun,
    RunEvent,
    ScheduledRun,
    SubmittedTask,
    RunCreator,
    CronFiring,
    PeriodicTask,
    CrontabSchedule,
)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def step(run_id: Any, name: str) -> StepRun:
    return StepRun.objects.get(run_id=run_id, name=name)


def start(run_id: Any, name: str, worker: str = "worker-1") -> StepRun:
    current = step(run_id, name)
    assert lifecycle.claim(current.id, current.attempt, None, worker) is not None
    return step(run_id, name)


def complete(run_id: Any, name: str, output: Any) -> None:
    current = start(run_id, name)
    assert lifecycle.complete_attempt(current.id, current.attempt, output)


def fail(run_id: Any, name: str, message: str, retryable: bool = False) -> None:
    current = start(run_id, name)
    error = ErrorInfo("RuntimeError", message, f"Traceback (most recent call last):\nRuntimeError: {message}\n")
    assert lifecycle.fail(current.id, current.attempt, error, retryable=retryable)


def progress(run_id: Any, name: str, percent: float) -> None:
    current = step(run_id, name)
    events.record(current.run_id, current.id, current.attempt, EventKind.PROGRESS, f"{percent}%", {"percent": percent})


def submit(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/sfp/api/tasks", body, format="json")


def operation_id(response: Any) -> str:
    assert response.status_code == 201, response.json()
    return str(response.json()["operationId"])
