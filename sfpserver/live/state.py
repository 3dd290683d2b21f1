"""What the live feed says about runs: their state (run, steps, attempts, progress) and recent events,
read from Postgres in a few bulk queries and shaped as plain JSON values (the channel layer and the
browser both take them as they are)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder

from sfpserver.engine import services
from sfpserver.engine.services import AttemptView, RunStatus, StepKind, StepStatus, StepView
from sfpserver.submissions import approvals

TRACEBACK_TAIL = 2000  # characters of an attempt's traceback shown live; the API has the whole text

_RUN_FIELDS = (
    "id",
    "workflow_name",
    "status",
    "error",
    "continued_failures",
    "priority",
    "created_at",
    "started_at",
    "finished_at",
)
_STEP_FIELDS = (
    "id",
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
    "continue_on_failure",
    "worker_name",
    "queued_at",
    "available_at",
    "started_at",
    "finished_at",
    "waiting_for",
    "due_at",
    "wait_events",
    "created_at",
)
_ATTEMPT_FIELDS = (
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
    runs = {str(run_id): run for run_id, run in services.get_runs(ids).items()}
    steps = _steps_by_run(list(runs), with_attempts=with_attempts)
    states = []
    for run_id in ids:
        if run_id in runs:
            run = {name: getattr(runs[run_id], name) for name in _RUN_FIELDS}
            run["workflow"] = run.pop("workflow_name")
            run["steps"] = steps.get(run_id, [])
            run["progress"] = progress(run["status"], run["steps"])
            states.append(run)
    return plain(states)


def run_state(run_id: UUID | str, *, with_attempts: bool = True) -> dict[str, Any] | None:
    found = run_states([run_id], with_attempts=with_attempts)
    return found[0] if found else None


def _steps_by_run(run_ids: list[str], *, with_attempts: bool) -> dict[str, list[dict[str, Any]]]:
    percents = services.step_percents(run_ids)
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for step in services.steps_of(run_ids, with_attempts=with_attempts):
        by_run[str(step.run_id)].append(_step(step, percents, with_attempts=with_attempts))
    return by_run


def _step(step: StepView, percents: dict[UUID, tuple[int | None, float]], *, with_attempts: bool) -> dict[str, Any]:
    row = {name: getattr(step, name) for name in _STEP_FIELDS}
    row["worker"] = row.pop("worker_name")
    row["waiting_label"] = approvals.wait_label(step.wait_events)
    attempt, percent = percents.get(step.id, (None, 0.0))
    row["percent"] = percent if attempt == step.attempt else 0.0
    if with_attempts:
        row["attempts"] = [_attempt(a) for a in step.attempts]
    return row


def _attempt(attempt: AttemptView) -> dict[str, Any]:
    row = {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}
    row["traceback"] = row["traceback"][-TRACEBACK_TAIL:]
    row["worker"] = row.pop("worker_name")
    return row


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
    return plain([asdict(event) for event in services.recent_events(UUID(str(run_id)), limit)])


def recent_runs(run_ids: Iterable[UUID]) -> list[dict[str, Any]]:
    return run_states(run_ids, with_attempts=False)
