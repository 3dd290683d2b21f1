"""The engine's commands for everything outside it: start runs (now, scheduled, by cron), cancel, retry,
replay, drain and resume, pause workers, set rate limits. Each keeps the engine's own rule (one transaction,
dispatch after commit) and raises the engine's exceptions, re-exported by the services package."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Model
from django_celery_beat.models import PeriodicTask

from sfpserver.engine import cron, drain, durable, lifecycle, pause, schedules
from sfpserver.engine import trigger as triggering
from sfpserver.engine.conditions import EventFact
from sfpserver.engine.models import (
    RateLimitBucket,
    ScheduledRun,
    StepRun,
    Worker,
    WorkerStatus,
    WorkflowDefinition,
    WorkflowRun,
)
from sfpserver.engine.trigger import Prepared, Started, TriggerRequest


def trigger(workflow: Any, input: Any = None, **options: Any) -> UUID:
    """Start one run (validated, recorded in one transaction, root steps published after commit)."""
    return triggering.trigger(workflow, input, **options)


def trigger_many(requests: list[TriggerRequest]) -> list[UUID]:
    """Start several runs in one transaction; nothing is written unless every request is valid."""
    return triggering.trigger_many(requests)


def start_many(requests: list[TriggerRequest]) -> list[Started]:
    """As trigger_many, but a request whose idempotency key another run holds is answered with that run
    (`Started.holder`) instead of raising IdempotencyCollision."""
    return triggering.start_many(requests)


def prepare_trigger(
    workflow: str,
    input: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    priority: int | None = None,
    continue_on_failure: Collection[str] = (),
) -> Prepared:
    """Validate a trigger as `trigger` would and build its run, recording nothing: for callers that record runs
    together with rows of their own (`trigger_prepared`). Its run id is `.run.id`."""
    return triggering.prepare(
        TriggerRequest(
            workflow, input, metadata=metadata or {}, priority=priority, continue_on_failure=continue_on_failure
        )
    )


def trigger_prepared(prepared: list[Prepared], also: Sequence[Model] = ()) -> list[UUID]:
    """`trigger_many` of runs built by `prepare_trigger`. For plain runs (`Prepared.plain`: no gate, condition or
    idempotency key), `also` (rows of other apps that refer to them, carrying their keys) is recorded with them in
    one transaction and one round trip; their first steps are published after commit."""
    return triggering.trigger_prepared(prepared, also)


def refuse_unstorable(input: Any, metadata: Any = None) -> None:
    """InvalidInputError when the input or metadata holds what Postgres cannot store."""
    triggering.refuse_unstorable(input, metadata)


def schedule_run(
    workflow: str,
    input: Any,
    trigger_at: datetime,
    *,
    metadata: Mapping[str, Any] | None = None,
    priority: int | None = None,
    continue_on_failure: Collection[str] = (),
) -> UUID:
    return schedules.schedule_run(
        workflow, input, trigger_at, metadata=metadata, priority=priority, continue_on_failure=continue_on_failure
    )


def reschedule_run(scheduled_id: UUID | str, trigger_at: datetime) -> bool:
    status = ScheduledRun.Status.SCHEDULED
    return bool(ScheduledRun.objects.filter(id=scheduled_id, status=status).update(trigger_at=trigger_at))


def cancel_scheduled_run(scheduled_id: UUID | str) -> bool:
    """False when it already fired or was cancelled."""
    return schedules.cancel_scheduled_run(scheduled_id)


def cancel_run(run_id: UUID | str, reason: str = "cancelled by request") -> bool:
    """Cancel every unfinished step; False when nothing was left to cancel."""
    return lifecycle.cancel_run(run_id, reason)


def cancel_step(step_id: UUID | str, reason: str = "cancelled by request") -> bool:
    return lifecycle.cancel_step(step_id, reason)


def retry_failed(run_id: UUID | str) -> list[str]:
    """Queue again the failed and cancelled steps of a finished run and what depends on them."""
    return lifecycle.retry_failed(run_id)


def replay_run(run_id: UUID | str) -> list[str]:
    return lifecycle.replay_run(run_id)


def replay_step(step_id: UUID | str) -> list[str]:
    return lifecycle.replay_step(step_id)


def cancel_run_or_step(run_or_step_id: UUID | str) -> None:
    """Hatchet's ids name a run or a task: cancel whichever this is."""
    if WorkflowRun.objects.filter(id=run_or_step_id).exists():
        lifecycle.cancel_run(run_or_step_id)
    else:
        lifecycle.cancel_step(run_or_step_id)


def replay_run_or_step(run_or_step_id: UUID | str) -> None:
    if WorkflowRun.objects.filter(id=run_or_step_id).exists():
        lifecycle.replay_run(run_or_step_id)
    else:
        lifecycle.replay_step(run_or_step_id)


def reset_durable_task(run_or_step_id: UUID | str, node_id: int) -> None:
    """Replay a durable task from node `node_id` of its log (a run id: its steps that have a log)."""
    with transaction.atomic():
        target = UUID(str(run_or_step_id))
        if WorkflowRun.objects.filter(id=target).exists():
            steps = StepRun.objects.filter(run_id=target)
            logged = list(steps.filter(waits__index__gte=0).distinct().values_list("id", flat=True))
            step_ids = logged or list(steps.values_list("id", flat=True))
        else:
            step_ids = [target]
        durable.forget_from(step_ids, node_id)
        for step_id in step_ids:
            lifecycle.replay_step(step_id)


# --- crons ------------------------------------------------------------------------------------------------


def normalize_cron(expression: str) -> str:
    """A 5-field cron expression (aliases expanded); InvalidWorkflowError naming the problem otherwise."""
    return cron.normalize(expression)


def register_cron(
    name: str,
    workflow: str,
    expression: str,
    *,
    input: Any = None,
    metadata: dict[str, Any] | None = None,
    priority: int | None = None,
    tz: str = "UTC",
    continue_on_failure: list[str] | None = None,
) -> PeriodicTask:
    """Create or update the beat entry `name` that starts `workflow` on `expression`."""
    return cron.register(
        name,
        workflow,
        expression,
        input=input,
        metadata=metadata,
        priority=priority,
        tz=tz,
        continue_on_failure=continue_on_failure,
    )


def register_declared_crons(definitions: list[Any]) -> int:
    return cron.register_declared(definitions)


def delete_cron(cron_id: int | str) -> None:
    PeriodicTask.objects.filter(id=cron_id, task=cron.CRON_TASK).delete()


# --- workflow pause ---------------------------------------------------------------------------------------


def pause_workflow(
    workflow: str, queue_ttl: float, *, cron_behavior: str = "QUEUE", scheduled_behavior: str = "QUEUE"
) -> int:
    """Pause a workflow: its new runs wait (at most `queue_ttl` seconds) until it is unpaused; crons and
    scheduled runs follow their behaviour (QUEUE or DROP). How many queued steps it now holds."""
    return pause.pause(workflow, queue_ttl, cron_behavior=cron_behavior, scheduled_behavior=scheduled_behavior)


def unpause_workflow(workflow: str) -> int:
    """Unpause a workflow and release the steps its pause held, oldest first; how many."""
    return pause.unpause(workflow)


# --- drain, workers, limits, definitions ------------------------------------------------------------------


def start_drain() -> datetime:
    return drain.start()


def resume() -> int:
    return drain.resume()


def is_draining() -> bool:
    return drain.is_draining()


def pause_worker(worker_id: UUID | str) -> None:
    Worker.objects.filter(id=worker_id).update(status=WorkerStatus.PAUSED)


def unpause_worker(worker_id: UUID | str) -> None:
    Worker.objects.filter(id=worker_id, status=WorkerStatus.PAUSED).update(status=WorkerStatus.ACTIVE)


def put_rate_limit(key: str, limit: int, window_seconds: int) -> None:
    with transaction.atomic():
        RateLimitBucket.objects.update_or_create(key=key, defaults={"limit": limit, "window_seconds": window_seconds})


def delete_definition(name: str) -> None:
    WorkflowDefinition.objects.filter(name=name).delete()


def record_scheduled_run(
    workflow: str, trigger_at: datetime, input: Any, *, metadata: Mapping[str, Any], priority: int | None
) -> UUID:
    """Record a scheduled run as Hatchet's `scheduled.create` does: the workflow is resolved when it fires."""
    row = ScheduledRun.objects.create(
        workflow_name=workflow,
        trigger_at=trigger_at,
        input=input,
        additional_metadata=dict(metadata),
        priority=priority,
    )
    return row.id


# --- durable tasks (engine/durable.py) --------------------------------------------------------------------------

durable_wait = durable.wait
durable_poll = durable.poll
durable_evict_at = durable.evict_at
durable_remember = durable.remember
durable_lookup = durable.lookup


def deliver_event(event: EventFact) -> int:
    """Inside the caller's transaction that records the event: answer the durable waits it matches."""
    return durable.deliver(event)
