"""Workflow pause (Hatchet's `Workflow.pause` / `unpause`): a paused workflow's runs are created but do not start.

While a workflow is paused (a `WorkflowPause` row), the root steps of each new run wait `paused` instead of
queueing, and so do its steps already queued that no worker claimed yet; each is cancelled if it still waits
`queue_ttl` after it was queued (the scheduler's `expire_due`). A cron firing of a paused workflow starts a run that
waits the same way (`QUEUE`), or does not fire (`DROP`); a scheduled run falls due into the paused queue (`QUEUE`)
or stays scheduled until the unpause (`DROP`). The unpause releases the held steps oldest first; each queues as it
would have, with a fresh schedule timeout. Steps a running run releases later (children, retries) are not held.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from uuid import UUID

from django.db import transaction

from sfpserver.engine import lifecycle, registry, waits
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.models import PauseBehavior, StepRun, StepStatus, WorkflowPause

logger = logging.getLogger(__name__)

BATCH = 500


def pause(
    workflow: str,
    queue_ttl: float,
    *,
    cron_behavior: str = PauseBehavior.QUEUE,
    scheduled_behavior: str = PauseBehavior.QUEUE,
) -> int:
    """Pause `workflow` (pausing again changes the settings); how many queued steps it now holds."""
    registry.get_workflow(workflow)  # UnknownWorkflowError for a name no worker registered
    if not isinstance(queue_ttl, (int, float)) or isinstance(queue_ttl, bool) or not math.isfinite(queue_ttl):
        raise InvalidWorkflowError("queue_ttl", f"must be a positive number of seconds, got {queue_ttl!r}")
    if queue_ttl <= 0:
        raise InvalidWorkflowError("queue_ttl", f"must be a positive number of seconds, got {queue_ttl!r}")
    for field, value in (("cron_behavior", cron_behavior), ("scheduled_behavior", scheduled_behavior)):
        if value not in PauseBehavior.values:
            raise InvalidWorkflowError(field, f"must be one of {', '.join(PauseBehavior.values)}, got {value!r}")
    with transaction.atomic():
        WorkflowPause.objects.update_or_create(
            workflow_name=workflow,
            defaults={
                "queue_ttl_seconds": float(queue_ttl),
                "cron_behavior": cron_behavior,
                "scheduled_behavior": scheduled_behavior,
            },
        )
        held = lifecycle.hold_for_pause(workflow, float(queue_ttl))
    logger.info("workflow %s paused (%d queued steps held)", workflow, held, extra={"workflow": workflow})
    return held


def unpause(workflow: str) -> int:
    """Unpause `workflow` and release its held steps, oldest first; how many were released."""
    if not WorkflowPause.objects.filter(workflow_name=workflow).delete()[0]:
        registry.get_workflow(workflow)  # UnknownWorkflowError for a name no worker registered
    released = sum(lifecycle.release_paused(step_id) for step_id in _held(workflow))
    logger.info("workflow %s unpaused (%d steps released)", workflow, released, extra={"workflow": workflow})
    return released


def _held(workflow: str) -> list[UUID]:
    held = StepRun.objects.filter(waits.PAUSED.q(), status=StepStatus.QUEUED, run__workflow_name=workflow)
    return list(held.order_by("run__created_at", "queued_at", "id").values_list("id", flat=True))


def paused(names: Iterable[str]) -> dict[str, WorkflowPause]:
    """The pauses of those of `names` that are paused."""
    return {p.workflow_name: p for p in WorkflowPause.objects.filter(workflow_name__in=set(names))}


def is_paused(workflow: str) -> bool:
    return WorkflowPause.objects.filter(workflow_name=workflow).exists()


def drops(workflow: str, *, cron: bool) -> bool:
    """Whether a cron firing (or a scheduled run) of `workflow` is held back by its pause (DROP)."""
    field = "cron_behavior" if cron else "scheduled_behavior"
    return WorkflowPause.objects.filter(workflow_name=workflow, **{field: PauseBehavior.DROP}).exists()


def dropping_scheduled() -> list[str]:
    """Workflows whose scheduled runs wait, unfired, for the unpause."""
    return list(
        WorkflowPause.objects.filter(scheduled_behavior=PauseBehavior.DROP).values_list("workflow_name", flat=True)
    )


def expire_due() -> int:
    """The scheduler's job: cancel the held steps past their queue TTL."""
    due = StepRun.objects.filter(waits.PAUSE_EXPIRED.q(), status=StepStatus.QUEUED)
    return sum(lifecycle.expire_paused(step_id) for step_id in due.values_list("id", flat=True)[:BATCH])
