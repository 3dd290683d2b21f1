"""Recording a run's log lines, stream chunks and progress, in order."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction

from sfpserver.engine import signals
from sfpserver.engine.models import EventKind, RunEvent


def record(
    run_id: UUID, step_id: UUID | None, attempt: int | None, kind: str, message: str = "", data: Any = None
) -> RunEvent:
    with transaction.atomic():
        event = RunEvent.objects.create(
            run_id=run_id, step_id=step_id, attempt=attempt, kind=kind, message=message, data=data
        )
        signals.after_commit_event(run_id, as_dict(event))
    return event


def as_dict(event: RunEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "run_id": str(event.run_id),
        "step_id": str(event.step_id) if event.step_id else None,
        "attempt": event.attempt,
        "kind": event.kind,
        "message": event.message,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }


__all__ = ["EventKind", "as_dict", "record"]
