"""Reading pushed events back (`hatchet.event.list` / `get`): each event with the runs it started, found by
the `hatchet__event_id` metadata every run an event starts carries. Newest first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from sfpserver.engine import services
from sfpserver.engine.services import RunQuery, RunView
from sfpserver.hatchet.clients.rest.models.v1_event import (
    EventMeta,
    V1Event,
    V1EventTriggeredRun,
    V1EventWorkflowRunSummary,
)
from sfpserver.hatchet.clients.rest.models.v1_event_list import EventPagination, V1EventList
from sfpserver.hatchet.models import Event as EventRow
from sfpserver.hatchet.refs import valid_uuid

EVENT_ID_KEY = "hatchet__event_id"
MAX_RUNS_PER_EVENT = 1000
_SUMMARY_FIELD = {"RUNNING": "running", "QUEUED": "queued", "COMPLETED": "succeeded", "FAILED": "failed"}


@dataclass(frozen=True)
class EventQuery:
    offset: int = 0
    limit: int = 50
    keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    workflow_ids: list[str] | None = None
    statuses: list[str] | None = None
    event_ids: list[str] | None = None
    additional_metadata: dict[str, Any] | None = None
    scopes: list[str] | None = None


def _runs_of(event_id: str, query: RunQuery | None = None) -> list[RunView]:
    base = query or RunQuery()
    matching = RunQuery(workflows=base.workflows, statuses=base.statuses, metadata_contains={EVENT_ID_KEY: event_id})
    return services.list_runs(matching)[0:MAX_RUNS_PER_EVENT]


def _summary(runs: list[RunView]) -> V1EventWorkflowRunSummary:
    counts = Counter(_SUMMARY_FIELD.get(run.status, "cancelled") for run in runs)
    return V1EventWorkflowRunSummary(**counts)


def _event(row: EventRow) -> V1Event:
    runs = _runs_of(str(row.id))
    return V1Event(
        metadata=EventMeta(str(row.id), row.created_at, row.created_at),
        key=row.key,
        tenant_id="default",
        workflow_run_summary=_summary(runs),
        additional_metadata=row.additional_metadata,
        payload=row.payload,
        scope=row.scope,
        seen_at=row.created_at,
        triggered_runs=[V1EventTriggeredRun(str(run.id)) for run in runs],
        triggering_webhook_name=row.triggering_webhook_name,
    )


def _filtered(query: EventQuery) -> QuerySet[EventRow]:
    rows = EventRow.objects.all()
    if query.keys:
        rows = rows.filter(key__in=query.keys)
    if query.since is not None:
        rows = rows.filter(created_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(created_at__lte=query.until)
    if query.event_ids is not None:
        rows = rows.filter(id__in=[i for i in query.event_ids if valid_uuid(i)])
    if query.scopes:
        rows = rows.filter(scope__in=query.scopes)
    for key, value in (query.additional_metadata or {}).items():
        rows = rows.filter(additional_metadata__contains={key: value})
    return rows.order_by("-created_at", "id")


def _with_runs(rows: QuerySet[EventRow], query: EventQuery) -> list[EventRow]:
    """The events, keeping only those that started a run of `workflow_ids` / in `statuses` when asked."""
    if not query.workflow_ids and not query.statuses:
        return list(rows[query.offset : query.offset + query.limit])
    runs = RunQuery(workflows=query.workflow_ids or None, statuses=query.statuses or None)
    kept = [row for row in rows if _runs_of(str(row.id), runs)]
    return kept[query.offset : query.offset + query.limit]


def list_events(query: EventQuery) -> V1EventList:
    rows = _filtered(query)
    total = rows.count()
    page = query.offset // max(query.limit, 1) + 1
    pages = -(-total // max(query.limit, 1))
    return V1EventList(
        rows=[_event(row) for row in _with_runs(rows, query)],
        pagination=EventPagination(page, page + 1 if page < pages else None, pages),
    )


def get_event(event_id: str) -> V1Event:
    row = EventRow.objects.filter(id=event_id).first() if valid_uuid(event_id) else None
    if row is None:
        raise ValueError(f"Event {event_id} not found")
    return _event(row)
