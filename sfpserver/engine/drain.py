"""Draining for a graceful update: a durable flag in Postgres under which no new step starts anywhere.

While the flag is up, runs are still accepted and their steps queued, but:

- a worker's claim refuses every step (`STEP_MAY_START_SQL` sits in the claim's compare-and-set), and the
  refused message is dropped with the step left QUEUED, waiting for the broker again (`push_back`);
- the scheduler's sweeper releases nothing and schedule timeouts stand still (scheduler.py);
- running steps go on, their workers heartbeating, until they finish.

One exception keeps running work finishable: a step of a child run whose parent step is RUNNING may start,
because that parent is waiting for it.

`resume()` lowers the flag, gives queued steps back the schedule-timeout time the drain took from them,
and publishes every queued step that is due at once (the sweeper's own query).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from sfpserver.engine import sql, statements
from sfpserver.engine.dispatch import BATCH, release_due_steps
from sfpserver.engine.models import EngineState, StepRun, StepStatus

logger = logging.getLogger(__name__)

STEP_MAY_START_SQL = statements.STEP_MAY_START  # inside the claim and the sweeper (statements.py)


@dataclass(frozen=True)
class RunningStep:
    run_id: UUID
    workflow: str
    step: str
    attempt: int
    worker: str
    pool: str
    started_at: datetime | None

    def running_for(self) -> float:
        return (timezone.now() - self.started_at).total_seconds() if self.started_at else 0.0


def is_draining() -> bool:
    return EngineState.objects.filter(draining=True).exists()


def drain_started_at() -> datetime | None:
    return EngineState.objects.filter(draining=True).values_list("drain_started_at", flat=True).first()


def start() -> datetime:
    """Raise the flag (idempotent), then wait out every claim that read it before it was up."""
    with transaction.atomic():
        state, _ = EngineState.objects.select_for_update().get_or_create(id=1)
        if not state.draining:
            state.draining, state.drain_started_at = True, timezone.now()
            state.save()
            logger.warning("draining: no new step starts until resume")
    _barrier()
    assert state.drain_started_at is not None
    return state.drain_started_at


def _barrier() -> None:
    """A claim locks engine_steprun before it takes the snapshot in which it reads the flag, so once a SHARE
    lock on the table is granted, every claim that could have missed the flag has committed (or rolled back)
    and its step shows up as RUNNING."""
    with transaction.atomic():
        sql.execute(statements.BARRIER_LOCK_TIMEOUT)
        sql.execute(statements.BARRIER)


def running_steps() -> list[RunningStep]:
    rows = (
        StepRun.objects.filter(status=StepStatus.RUNNING)
        .order_by("started_at")
        .values("run_id", "run__workflow_name", "name", "attempt", "worker__name", "worker__pool", "started_at")
    )
    return [
        RunningStep(
            run_id=r["run_id"],
            workflow=r["run__workflow_name"],
            step=r["name"],
            attempt=r["attempt"],
            worker=r["worker__name"] or "?",
            pool=r["worker__pool"] or "?",
            started_at=r["started_at"],
        )
        for r in rows
    ]


def push_back(step_id: UUID | str, attempt: int) -> bool:
    """After a refused claim: if a drain refused it, leave the step for the sweeper to publish after resume."""
    return sql.execute(statements.PUSH_BACK, {"step": str(step_id), "attempt": attempt}) > 0


def resume() -> int:
    """Lower the flag and publish the queued steps that are due; returns how many were published."""
    with transaction.atomic():
        state = EngineState.objects.select_for_update().filter(id=1, draining=True).first()
        if state is not None:
            sql.execute(statements.EXTEND_DEADLINES, {"since": state.drain_started_at})
            state.draining, state.drain_started_at = False, None
            state.save()
            logger.warning("resumed: steps start again")
    return _release_all_due()


def _release_all_due() -> int:
    released = 0
    while True:
        count = release_due_steps()
        released += count
        if count < BATCH:
            return released
