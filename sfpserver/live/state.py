"""What the live feed says about runs: their state (run, steps, attempts, progress) and recent events,
read from Postgres in a few bulk queries and shaped as plain JSON values (the channel layer and the
browser both take them as they are)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder

from sfpserver.engine.models import Attempt, RunEvent, RunStatus, StepKind, StepRun, StepStatus, WorkflowRun
from sfpserver.engine.progress import latest_percents

TRACEBACK_TAIL = 2000  # characters of an attempt's traceback shown live; the API has the whole text

_RUN_FIELDS = ("id", "workflow_name", "status", "error", "priority", "created_at", "started_at", "finished_at")
_STEP_FIELDS = (
    "id",
    "run_id",
    "name",
    "kind",
    "parents",
    "queue",
    "status",
    "attempt",
    "retries",
    "app_retry_count",
    "internal_retry_count",
    "error",
    "error_type",
    "worker__name",
    "queued_at",
    "available_at",
    "started_at",
    "finished_at",
    "created_at",
)
_ATTEMPT_FIELDS = (
    "step_id",
    "number",
    "outcome",
    "worker_name",
    "started_at",
    "finished_at",
    "error_type",
    "error_message",
    "traceback",
)


def plain(value: Any) -> Any:
    """UUIDs and datetimes as strings: what JSON, msgpack and the browser all take."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def run_states(run_ids: Iterable[UUID | str], *, with_attempts: bool) -> list[dict[str, Any]]:
    """The state of each run that exists, in the order given."""
    ids = [str(run_id) for run_id in run_ids]
    runs = {str(row["id"]): row for row in WorkflowRun.objects.filter(id__in=ids).values(*_RUN_FIELDS)}
    steps = _steps_by_run(list(runs), with_attempts=with_attempts)
    states = []
    for run_id in ids:
        if run_id in runs:
            run = runs[run_id]
            run["workflow"] = run.pop("workflow_name")
            run["steps"] = steps.get(run_id, [])
            run["progress"] = progress(run["status"], run["steps"])
            states.append(run)
    return plain(states)


def run_state(run_id: UUID | str, *, with_attempts: bool = True) -> dict[str, Any] | None:
    found = run_states([run_id], with_attempts=with_attempts)
    return found[0] if found else None


def _steps_by_run(run_ids: list[str], *, with_attempts: bool) -> dict[str, list[dict[str, Any]]]:
    rows = list(StepRun.objects.filter(run_id__in=run_ids).order_by("created_at", "name").values(*_STEP_FIELDS))
    percents = latest_percents(run_ids)
    attempts = _attempts([row["id"] for row in rows]) if with_attempts else {}
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row["worker"] = row.pop("worker__name")
        attempt, percent = percents.get(row["id"], (None, 0.0))
        row["percent"] = percent if attempt == row["attempt"] else 0.0
        if with_attempts:
            row["attempts"] = attempts.get(row["id"], [])
        by_run[str(row.pop("run_id"))].append(row)
    return by_run


def _attempts(step_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    by_step: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in Attempt.objects.filter(step_id__in=step_ids).order_by("step_id", "number").values(*_ATTEMPT_FIELDS):
        row["traceback"] = row["traceback"][-TRACEBACK_TAIL:]
        row["worker"] = row.pop("worker_name")
        by_step[row.pop("step_id")].append(row)
    return by_step


def progress(status: str, steps: list[dict[str, Any]]) -> int:
    """0-100 as sfpserver/engine/progress.py counts it (the dashboard's JS repeats this formula)."""
    if status == RunStatus.COMPLETED:
        return 100
    counted = [step for step in steps if step["kind"] != StepKind.ON_FAILURE]
    if not counted:
        return 0
    done = sum(
        1.0 if step["status"] == StepStatus.COMPLETED else step["percent"] / 100
        for step in counted
        if step["status"] in (StepStatus.COMPLETED, StepStatus.RUNNING)
    )
    return min(100, max(0, math.floor(100 * done / len(counted))))


def recent_events(run_id: UUID | str, limit: int) -> list[dict[str, Any]]:
    """The run's last `limit` events, oldest first."""
    rows = (
        RunEvent.objects.filter(run_id=UUID(str(run_id)))
        .order_by("-id")
        .values("id", "run_id", "step_id", "attempt", "kind", "message", "data", "created_at")[:limit]
    )
    return plain(list(reversed(rows)))


def recent_runs(run_ids: Iterable[UUID]) -> list[dict[str, Any]]:
    return run_states(run_ids, with_attempts=False)
