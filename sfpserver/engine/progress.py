"""How far a run has come, 0-100: completed steps count whole, running steps by their latest progress event."""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

from sfpserver.engine.models import EventKind, RunEvent, RunStatus, StepKind, StepRun, StepStatus, WorkflowRun


def run_progress(run: WorkflowRun) -> int:
    if run.status == RunStatus.COMPLETED:
        return 100
    steps = list(
        StepRun.objects.filter(run_id=run.id).exclude(kind=StepKind.ON_FAILURE).values("id", "status", "attempt")
    )
    if not steps:
        return 0
    reported = latest_percents([run.id])
    done = 0.0
    for step in steps:
        if step["status"] == StepStatus.COMPLETED:
            done += 1.0
        elif step["status"] == StepStatus.RUNNING:
            attempt, percent = reported.get(step["id"], (None, 0.0))
            done += percent / 100 if attempt == step["attempt"] else 0.0
    return min(100, max(0, math.floor(100 * done / len(steps))))


def latest_percents(run_ids: list[UUID] | list[str]) -> dict[UUID, tuple[int | None, float]]:
    """Each step's latest reported progress in these runs: step id -> (the attempt that reported it, percent)."""
    latest = (
        RunEvent.objects.filter(run_id__in=run_ids, kind=EventKind.PROGRESS, step_id__isnull=False)
        .order_by("step_id", "-id")
        .distinct("step_id")
        .values_list("step_id", "attempt", "data")
    )
    return {step_id: (attempt, percent_of(data)) for step_id, attempt, data in latest}


def percent_of(data: Any) -> float:
    value = data.get("percent") if isinstance(data, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return 0.0
    return float(min(100.0, max(0.0, value)))
