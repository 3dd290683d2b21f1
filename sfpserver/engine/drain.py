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

from django.db import connection, transaction
from django.utils import timezone

from sfpserver.engine import waits
from sfpserver.engine.models import EngineState, StepRun, StepStatus

logger = logging.getLogger(__name__)

# True when a step of `engine_steprun` may start now. Used inside the claim and the sweeper's queries (its status
# test is written so the claim's prepared plan keeps to primary keys: see lifecycle._claim_sql).
STEP_MAY_START_SQL = """(
    NOT EXISTS (SELECT 1 FROM engine_enginestate WHERE draining)
    OR EXISTS (SELECT 1 FROM engine_workflowrun child_run
                 JOIN engine_steprun parent_step ON parent_step.id = child_run.parent_step_id
                WHERE child_run.id = engine_steprun.run_id AND coalesce(parent_step.status, '') = 'RUNNING')
)"""

BARRIER_LOCK_TIMEOUT = "30s"


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
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{BARRIER_LOCK_TIMEOUT}'")
        cursor.execute("LOCK TABLE engine_steprun IN SHARE MODE")


def running_steps() -> list[RunningStep]:
    rows = (
        StepRun.objects.filter(status=StepStatus.RUNNING)
        .order_by("started_at")
        .values_list("run_id", "run__workflow_name", "name", "attempt", "worker__name", "worker__pool", "started_at")
    )
    return [RunningStep(r[0], r[1], r[2], r[3], r[4] or "?", r[5] or "?", r[6]) for r in rows]


_PUSH_BACK_SQL = f"""
UPDATE engine_steprun SET {waits.set_sql(waits.Event.UNDELIVERED)}
 WHERE id = %(step)s AND attempt = %(attempt)s AND status = 'QUEUED' AND NOT {STEP_MAY_START_SQL}
"""


def push_back(step_id: UUID | str, attempt: int) -> bool:
    """After a refused claim: if a drain refused it, leave the step for the sweeper to publish after resume."""
    with connection.cursor() as cursor:
        cursor.execute(_PUSH_BACK_SQL, {"step": str(step_id), "attempt": attempt})
        return cursor.rowcount > 0


_EXTEND_DEADLINES_SQL = """
UPDATE engine_steprun
   SET schedule_deadline = schedule_deadline
       + greatest(now() - greatest(%(since)s, coalesce(available_at, queued_at)), interval '0')
 WHERE status = 'QUEUED' AND schedule_deadline IS NOT NULL
"""


def resume() -> int:
    """Lower the flag and publish the queued steps that are due; returns how many were published."""
    with transaction.atomic():
        state = EngineState.objects.select_for_update().filter(id=1, draining=True).first()
        if state is not None:
            with connection.cursor() as cursor:
                cursor.execute(_EXTEND_DEADLINES_SQL, {"since": state.drain_started_at})
            state.draining, state.drain_started_at = False, None
            state.save()
            logger.warning("resumed: steps start again")
    return _release_all_due()


def _release_all_due() -> int:
    from sfpserver.engine.scheduler import BATCH, release_due_steps

    released = 0
    while True:
        count = release_due_steps()
        released += count
        if count < BATCH:
            return released
