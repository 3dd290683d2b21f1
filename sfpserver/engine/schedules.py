"""Runs to start later: a due-time row that the scheduler loop releases (scheduler.fire_scheduled_runs).

The request is validated exactly as a trigger is, so a refused schedule records nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from sfpserver.engine.models import ScheduledRun
from sfpserver.engine.trigger import TriggerRequest, prepare


def schedule_run(
    workflow: str,
    input: Any,
    trigger_at: datetime,
    *,
    metadata: Mapping[str, Any] | None = None,
    priority: int | None = None,
    continue_on_failure: Collection[str] = (),
) -> UUID:
    request = TriggerRequest(
        workflow, input, metadata=metadata or {}, priority=priority, continue_on_failure=continue_on_failure
    )
    prepared = prepare(request)
    scheduled = ScheduledRun.objects.create(
        workflow_name=prepared.run.workflow_name,
        trigger_at=trigger_at,
        input=prepared.run.input,
        additional_metadata=prepared.run.additional_metadata,
        priority=priority,
        continue_on_failure=list(continue_on_failure),
    )
    return scheduled.id


def cancel_scheduled_run(scheduled_id: UUID | str) -> bool:
    """Cancel a scheduled run that has not started yet; False when it already fired or was cancelled."""
    with transaction.atomic():
        return bool(
            ScheduledRun.objects.filter(id=scheduled_id, status=ScheduledRun.Status.SCHEDULED).update(
                status=ScheduledRun.Status.CANCELLED
            )
        )
