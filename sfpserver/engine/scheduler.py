"""The scheduler loop: one leader (a Postgres advisory lock) releases every due-time row each tick.

- retries whose backoff has passed, and queued steps whose message never reached a worker (the sweeper);
- steps that did not start within their schedule timeout (cancelled), and steps a workflow's pause held past its
  queue TTL (cancelled: engine/pause.py);
- running attempts past their deadline (failed, using a retry);
- workers silent past ENGINE_WORKER_DEAD_AFTER (their running steps are re-queued elsewhere), judged only once
  the leader has itself been connected that long: a database outage silences every worker at once;
- scheduled runs that are due, and crons whose next fire time has come (engine/cron.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from psycopg.rows import dict_row

from sfpserver.engine import (
    batching,
    cron,
    drain,
    durable,
    gates,
    idempotency,
    lifecycle,
    pause,
    signals,
    statements,
    trigger,
    waits,
)
from sfpserver.engine.dbretry import wait_for_database
from sfpserver.engine.dispatch import BATCH, recover_lost_messages, release_due_steps
from sfpserver.engine.exceptions import EngineError
from sfpserver.engine.models import (
    TERMINAL_RUN_STATUSES,
    ScheduledRun,
    StepRun,
    StepStatus,
    Worker,
    WorkerStatus,
    WorkflowRun,
)

logger = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x5F9_5E7E  # pg_advisory_lock key of the scheduler leader
SCHEDULER_PRESENT_KEY = 0x5F9_5E7F  # held shared by every running scheduler process


class AdvisoryLock:
    """A session-level advisory lock on a connection of its own; lost if that connection breaks. Shared locks
    may be held by many sessions at once (every scheduler process holds SCHEDULER_PRESENT_KEY)."""

    def __init__(self, key: int = LEADER_LOCK_KEY, *, shared: bool = False) -> None:
        self.key = key
        self.shared = shared
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self.held_since = 0.0  # time.monotonic() when this session took the lock

    def held_for(self) -> float:
        return time.monotonic() - self.held_since

    def acquire(self) -> bool:
        if self._conn is not None and self._alive():
            return True
        self.release()
        statement = statements.TRY_LOCK_SHARED if self.shared else statements.TRY_LOCK
        try:
            params = connection.get_connection_params()
            self._conn = psycopg.connect(**params, autocommit=True, row_factory=dict_row)
            row = self._conn.execute(statement.text, {"lock_key": self.key}).fetchone()
        except psycopg.Error:
            self.release()
            return False
        if row and row["locked"]:
            self.held_since = time.monotonic()
            return True
        self.release()
        return False

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute(statements.ALIVE.text)
            return True
        except psycopg.Error:
            return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None


def run_forever(stop: threading.Event) -> None:
    """The scheduler process: it always wants the lead. Its presence (a shared lock every scheduler holds) tells
    a worker process standing in for it (engine/standby.py) to hand the lead back."""
    _register_declared_workflows()
    presence = AdvisoryLock(SCHEDULER_PRESENT_KEY, shared=True)
    lock = AdvisoryLock(LEADER_LOCK_KEY)
    leading = False
    while not stop.is_set():
        presence.acquire()
        if lock.acquire():
            if not leading:
                logger.info("scheduler is the leader")
            leading = True
            tick(lock.held_for())
        elif leading:
            logger.warning("scheduler lost the leader lock")
            leading = False
        stop.wait(settings.ENGINE_TICK)
    lock.release()
    presence.release()


def _register_declared_workflows() -> None:
    """At server start: publish the shapes of ENGINE_WORKFLOW_MODULES' workflows and their crons."""
    from sfpserver.engine import registry

    registry.load_workflow_modules()
    wait_for_database(registry.publish_definitions, "publish workflow definitions")
    wait_for_database(register_declared_crons, "register crons")


def register_declared_crons() -> None:
    """The crons of the workflows this process loaded (the scheduler's modules, or a worker's)."""
    from sfpserver.engine import registry

    cron.register_declared(registry.local_workflows())


def tick(leading_for: float = float("inf")) -> None:
    """One pass over every due-time job. Silence is judged only over a span the leader itself was connected:
    after a database outage (or a new leader taking over) workers get one full ENGINE_WORKER_DEAD_AFTER to
    beat again before any of them is declared dead."""
    jobs = (
        recover_lost_messages,
        release_due_steps,
        wake_durable_tasks,
        time_out_schedules,
        pause.expire_due,
        time_out_attempts,
        fire_scheduled_runs,
        cron.resync,
        cron.fire_due,
        admit_gated_steps,
        batching.flush_due,
        prune_finished_runs,
    )
    for job in jobs:
        _safely(job)
    if leading_for >= settings.ENGINE_WORKER_DEAD_AFTER:
        _safely(reap_dead_workers)


def wake_durable_tasks() -> int:
    """The timer of durable sleeps: answer the due ones, and queue the evicted tasks they answer (durable.py)."""
    woken = total = durable.satisfy_due()
    while woken == durable.BATCH:
        woken = durable.satisfy_due()
        total += woken
    return total


def admit_gated_steps() -> None:
    """The safety net of gates.py: admit every key with waiting slots, and release what is ready."""
    lifecycle.admit(*gates.due())


def _safely(job: Callable[[], object]) -> None:
    close_old_connections()
    try:
        job()
    except DatabaseError:
        logger.warning("scheduler job %s hit a database error; retrying next tick", job.__name__)
        connection.close()
    except Exception:
        logger.exception("scheduler job %s failed", job.__name__)


def time_out_schedules() -> int:
    """Cancel queued steps past their schedule deadline; not while a drain holds them (resume extends it)."""
    if drain.is_draining():
        return 0
    due = StepRun.objects.filter(waits.schedule_overdue())
    return sum(
        lifecycle.time_out_schedule(step_id, attempt) for step_id, attempt in due.values_list("id", "attempt")[:BATCH]
    )


def time_out_attempts() -> int:
    due = StepRun.objects.filter(status=StepStatus.RUNNING, timeout_at__lte=timezone.now())
    return sum(lifecycle.time_out(step_id, attempt) for step_id, attempt in due.values_list("id", "attempt")[:BATCH])


def reap_dead_workers() -> int:
    silent_since = timezone.now() - timedelta(seconds=settings.ENGINE_WORKER_DEAD_AFTER)
    dead = list(
        Worker.objects.filter(
            status__in=[WorkerStatus.ACTIVE, WorkerStatus.PAUSED], last_heartbeat__lt=silent_since
        ).values_list("id", "name", "pool")
    )
    count = 0
    for worker_id, name, pool in dead:
        if not Worker.objects.filter(id=worker_id, last_heartbeat__lt=silent_since).update(status=WorkerStatus.DEAD):
            continue
        logger.warning(
            "worker %s is dead (no heartbeat for %ss)",
            name,
            settings.ENGINE_WORKER_DEAD_AFTER,
            extra={"worker": name, "pool": pool},
        )
        reason = f"Worker did not send a heartbeat for {settings.ENGINE_WORKER_DEAD_AFTER:g} seconds"
        running = StepRun.objects.filter(worker_id=worker_id, status=StepStatus.RUNNING)
        count += sum(
            lifecycle.reassign(step_id, attempt, reason) for step_id, attempt in running.values_list("id", "attempt")
        )
    return count


_last_prune = 0.0
PRUNE_EVERY = 60.0


def prune_finished_runs(batch: int = BATCH) -> int:
    """Delete, in batches, finished runs older than ENGINE_RETENTION_DAYS (with their steps and events); then
    ask the apps that keep rows for a limited time to prune theirs (signals.retention_due)."""
    global _last_prune
    if time.monotonic() - _last_prune < PRUNE_EVERY:
        return 0
    _last_prune = time.monotonic()
    deleted = prune_before(timezone.now() - timedelta(days=settings.ENGINE_RETENTION_DAYS), batch)
    while idempotency.prune_expired(batch) == batch:
        pass
    prune_elsewhere()
    return deleted


def prune_elsewhere() -> None:
    """Every retention_due receiver runs, even when one fails (each is logged and retried next time)."""
    for receiver, outcome in signals.retention_due.send_robust(None):
        if isinstance(outcome, Exception):
            logger.error(
                "retention job %s failed: %s", getattr(receiver, "__qualname__", receiver), outcome, exc_info=outcome
            )


def prune_before(cutoff: Any, batch: int = BATCH) -> int:
    deleted = 0
    while True:
        ids = list(
            WorkflowRun.objects.filter(finished_at__lt=cutoff, status__in=TERMINAL_RUN_STATUSES)
            .order_by("finished_at")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        WorkflowRun.objects.filter(id__in=ids).delete()
        deleted += len(ids)


def fire_scheduled_runs() -> int:
    fired = 0
    while True:
        with transaction.atomic():
            due = (
                ScheduledRun.objects.select_for_update(skip_locked=True)
                .filter(status=ScheduledRun.Status.SCHEDULED, trigger_at__lte=timezone.now())
                .exclude(workflow_name__in=pause.dropping_scheduled())  # they wait for the unpause
                .order_by("trigger_at", "id")
                .first()
            )
            if due is None:
                return fired
            try:
                run_id = trigger.trigger(
                    due.workflow_name,
                    due.input,
                    metadata=due.additional_metadata,
                    priority=due.priority,
                    continue_on_failure=due.continue_on_failure,
                )
            except EngineError as exc:
                logger.error("scheduled run %s could not start: %s", due.id, exc, extra={"workflow": due.workflow_name})
                due.status = ScheduledRun.Status.CANCELLED
            else:
                due.status, due.run_id = ScheduledRun.Status.TRIGGERED, run_id
            due.save(update_fields=["status", "run"])
            fired += 1
