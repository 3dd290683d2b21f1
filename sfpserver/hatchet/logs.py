"""The `hatchet.logs` client (Hatchet's `features/logs.py`): the lines a task run wrote with `ctx.log` (and,
with log capture, through the client's logger), oldest first."""

from __future__ import annotations

from datetime import datetime

from sfpserver.engine import services
from sfpserver.engine.services import EventKind, EventView
from sfpserver.hatchet.clients.rest.models.v1_event_list import EventPagination
from sfpserver.hatchet.clients.rest.models.v1_log_line import V1LogLine
from sfpserver.hatchet.clients.rest.models.v1_log_line_list import V1LogLineList
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.refs import valid_uuid

MAX_LINES = 10_000


def _line(event: EventView, display_name: str) -> V1LogLine:
    return V1LogLine(
        created_at=event.created_at,
        message=event.message,
        metadata=event.data if isinstance(event.data, dict) else {},
        task_external_id=str(event.step_id) if event.step_id else None,
        task_display_name=display_name,
        retry_count=event.attempt,
        attempt=(event.attempt or 0) + 1,
    )


def _in_window(event: EventView, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or event.created_at >= since) and (until is None or event.created_at <= until)


def log_lines(task_run_id: str, limit: int, since: datetime | None, until: datetime | None) -> V1LogLineList:
    step = services.get_step(task_run_id) if valid_uuid(task_run_id) else None
    if step is None:
        raise ValueError(f"Task run {task_run_id} not found")
    events = services.events_after(step.run_id, 0, MAX_LINES, kind=EventKind.LOG, step_id=step.id)
    rows = [_line(e, step.name) for e in events if _in_window(e, since, until)][:limit]
    return V1LogLineList(rows=rows, pagination=EventPagination(1, None, 1))


class LogsClient:
    """`hatchet.logs`."""

    def list(
        self, task_run_id: str, limit: int = 1000, since: datetime | None = None, until: datetime | None = None
    ) -> V1LogLineList:
        return run_db(lambda: log_lines(task_run_id, limit, since, until))

    async def aio_list(
        self, task_run_id: str, limit: int = 1000, since: datetime | None = None, until: datetime | None = None
    ) -> V1LogLineList:
        return await aio_db(lambda: log_lines(task_run_id, limit, since, until))
