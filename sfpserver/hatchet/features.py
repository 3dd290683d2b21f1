"""The feature clients: `hatchet.event`, `cron`, `scheduled`, `workflows`, `workers`, `rate_limits`."""

from __future__ import annotations

import builtins
import fnmatch
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from sfpserver.engine import services
from sfpserver.engine.services import (
    InvalidWorkflowError,
    ScheduledRunView,
    TriggerRequest,
    WorkerView,
    refuse_unstorable,
    trigger_many,
)
from sfpserver.engine.services import WorkerStatus as EngineWorkerStatus
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.types import BulkPushEventWithMetadata, PushEventOptions, RateLimitDuration, WorkerStatus
from sfpserver.hatchet.unsupported import unsupported

INACTIVE_AFTER = timedelta(seconds=5)


def validate_cron(expression: str) -> str:
    try:
        return services.normalize_cron(expression)
    except InvalidWorkflowError as exc:
        raise ValueError(exc.problem) from None


# --- events ---------------------------------------------------------------------------------------------


@dataclass
class Event:
    tenant_id: str
    event_id: str
    key: str
    payload: str
    event_timestamp: datetime
    additional_metadata: str
    scope: str | None = None
    seen_at: datetime | None = None


def _matches(pattern: str, key: str) -> bool:
    return pattern == key or ("*" in pattern and fnmatch.fnmatchcase(key, pattern))


def _push(
    key: str, payload: dict[str, Any], metadata: dict[str, Any], priority: int | None, scope: str | None
) -> Event:
    from sfpserver.hatchet.contextvars import current_context
    from sfpserver.hatchet.models import Event as EventRow

    ctx = current_context.get()
    if ctx is not None and ctx._inv is not None:
        metadata = {
            "hatchet__source_workflow_run_id": ctx.workflow_run_id,
            "hatchet__source_step_run_id": ctx.task_run_id,
            **metadata,
        }
    refuse_unstorable(payload, metadata)
    with transaction.atomic():  # the event and the durable waits it answers, together (engine/durable.py)
        row = EventRow.objects.create(
            key=key, payload=payload, additional_metadata=metadata, scope=scope, priority=priority
        )
        services.deliver_event(_fact(row))
    run_metadata = {**metadata, "hatchet__event_id": str(row.id), "hatchet__event_key": key}
    requests = [
        TriggerRequest(definition.name, payload or None, metadata=run_metadata, priority=priority)
        for definition in services.list_definitions()
        if any(_matches(p, key) for p in (definition.spec.get("triggers") or {}).get("on_events", []))
    ]
    if requests:
        trigger_many(requests)
    return Event("default", str(row.id), key, json.dumps(payload), row.created_at, json.dumps(metadata), scope)


def _fact(row: Any) -> services.EventFact:
    return services.EventFact(str(row.id), row.key, row.payload, row.scope, row.created_at, row.additional_metadata)


LOOKBACK_LIMIT = 100


def lookback(condition: dict[str, Any]) -> list[services.EventFact]:
    """Events pushed since a durable wait's `since` that may answer it, newest first (its lookback window)."""
    from sfpserver.hatchet.models import Event as EventRow

    rows = EventRow.objects.filter(key=condition["event_key"], created_at__gte=condition["since"])
    if condition.get("scope") is not None:
        rows = rows.filter(scope=condition["scope"])
    return [_fact(row) for row in rows.order_by("-created_at")[:LOOKBACK_LIMIT]]


class EventClient:
    def push(
        self,
        event_key: str,
        payload: dict[str, Any],
        options: PushEventOptions | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        scope: str | None = None,
    ) -> Event:
        opts = options or PushEventOptions()
        metadata = {**opts.additional_metadata, **(additional_metadata or {})}
        return run_db(lambda: _push(event_key, payload, metadata, priority or opts.priority, scope or opts.scope))

    async def aio_push(self, event_key: str, payload: dict[str, Any], **kwargs: Any) -> Event:
        return await aio_db(lambda: self.push(event_key, payload, **kwargs))

    def bulk_push(self, events: list[BulkPushEventWithMetadata], options: Any = None) -> list[Event]:
        return [
            self.push(e.key, e.payload, additional_metadata=e.additional_metadata, priority=e.priority, scope=e.scope)
            for e in events
        ]

    async def aio_bulk_push(self, events: list[BulkPushEventWithMetadata], options: Any = None) -> list[Event]:
        return await aio_db(lambda: self.bulk_push(events, options))


# --- cron and scheduled runs ------------------------------------------------------------------------------


@dataclass
class CronWorkflows:
    metadata: Any
    workflow_name: str
    cron: str
    name: str
    input: Any
    additional_metadata: dict[str, Any]
    enabled: bool


@dataclass
class _Meta:
    id: str


class CronClient:
    def create(
        self,
        workflow_name: str,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> CronWorkflows:
        normalized = validate_cron(expression)
        data = input.model_dump(mode="json") if hasattr(input, "model_dump") else (input or {})
        task = run_db(
            lambda: services.register_cron(
                f"{workflow_name}:{cron_name}",
                workflow_name,
                normalized,
                input=data or None,
                metadata=additional_metadata or {},
                priority=priority,
            )
        )
        return CronWorkflows(
            _Meta(str(task.id)), workflow_name, normalized, cron_name, data, additional_metadata or {}, True
        )

    async def aio_create(self, *args: Any, **kwargs: Any) -> CronWorkflows:
        return await aio_db(lambda: self.create(*args, **kwargs))

    def delete(self, cron_id: str) -> None:
        run_db(lambda: services.delete_cron(cron_id))

    async def aio_delete(self, cron_id: str) -> None:
        await aio_db(lambda: self.delete(cron_id))

    def list(self, workflow_name: str | None = None, **filters: Any) -> list[CronWorkflows]:
        if any(value is not None for value in filters.values()):
            unsupported("filters", "hatchet.cron.list")

        def read() -> list[CronWorkflows]:
            return [
                CronWorkflows(
                    _Meta(str(cron.id)),
                    cron.workflow_name,
                    cron.expression,
                    cron.name.split(":", 1)[-1],
                    cron.input,
                    cron.additional_metadata,
                    cron.enabled,
                )
                for cron in services.list_crons(workflow_name)
            ]

        return run_db(read)


@dataclass
class ScheduledWorkflows:
    metadata: Any
    workflow_name: str
    trigger_at: datetime
    input: Any
    additional_metadata: dict[str, Any]
    status: str
    workflow_run_id: str | None


def _scheduled(row: ScheduledRunView | None) -> ScheduledWorkflows:
    if row is None:
        raise ValueError("scheduled run not found")
    return ScheduledWorkflows(
        _Meta(str(row.id)),
        row.workflow_name,
        row.trigger_at,
        row.input,
        row.additional_metadata,
        row.status,
        str(row.run_id) if row.run_id else None,
    )


class ScheduledClient:
    def create(
        self,
        workflow_name: str,
        trigger_at: datetime,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflows:
        when = trigger_at.replace(tzinfo=UTC) if trigger_at.tzinfo is None else trigger_at
        data = input.model_dump(mode="json") if hasattr(input, "model_dump") else input
        refuse_unstorable(data, additional_metadata)
        scheduled_id = run_db(
            lambda: services.record_scheduled_run(
                workflow_name, when, data or None, metadata=additional_metadata or {}, priority=priority
            )
        )
        return self.get(str(scheduled_id))

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledWorkflows:
        return await aio_db(lambda: self.create(*args, **kwargs))

    def get(self, scheduled_id: str) -> ScheduledWorkflows:
        return _scheduled(run_db(lambda: services.get_scheduled_run(scheduled_id)))

    def list(self, workflow_name: str | None = None, **filters: Any) -> list[ScheduledWorkflows]:
        if any(value is not None for value in filters.values()):
            unsupported("filters", "hatchet.scheduled.list")

        def read() -> list[ScheduledWorkflows]:
            return [_scheduled(r) for r in services.list_scheduled_runs(workflow_name)]

        return run_db(read)

    def update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledWorkflows:
        run_db(lambda: services.reschedule_run(scheduled_id, trigger_at))
        return self.get(scheduled_id)

    def delete(self, scheduled_id: str) -> None:
        run_db(lambda: services.cancel_scheduled_run(scheduled_id))

    def bulk_delete(self, scheduled_ids: builtins.list[str] | None = None, **filters: Any) -> None:
        if any(value is not None for value in filters.values()):
            unsupported("filters", "hatchet.scheduled.bulk_delete")
        for scheduled_id in scheduled_ids or []:
            self.delete(scheduled_id)


# --- workflows, workers, rate limits ------------------------------------------------------------------------


@dataclass
class WorkflowSummary:
    metadata: Any
    name: str
    description: str | None = None


class WorkflowsClient:
    def list(self, workflow_name: str | None = None, limit: int | None = None, offset: int | None = None) -> Any:
        def read() -> list[WorkflowSummary]:
            names = [name for name in services.definition_names() if not workflow_name or name == workflow_name]
            start = offset or 0
            return [WorkflowSummary(_Meta(name), name) for name in names[start : start + (limit or 1000)]]

        return _Rows(run_db(read))

    def get(self, workflow_id: str) -> WorkflowSummary:
        row = run_db(lambda: services.get_definition(workflow_id))
        if row is None:
            raise ValueError(f"workflow {workflow_id!r} not found")
        return WorkflowSummary(_Meta(row.name), row.name)

    def delete(self, workflow_id: str) -> None:
        run_db(lambda: services.delete_definition(workflow_id))


@dataclass
class _Rows:
    rows: list[Any]


@dataclass
class WorkerInfo:
    metadata: Any
    name: str
    status: WorkerStatus
    last_heartbeat_at: datetime
    labels: list[dict[str, Any]]
    slots: int
    pool: str


def worker_status(worker: WorkerView) -> WorkerStatus:
    if worker.status == EngineWorkerStatus.PAUSED:
        return WorkerStatus.PAUSED
    if worker.status != EngineWorkerStatus.ACTIVE or timezone.now() - worker.last_heartbeat > INACTIVE_AFTER:
        return WorkerStatus.INACTIVE
    return WorkerStatus.ACTIVE


def _worker_info(w: WorkerView | None) -> WorkerInfo:
    if w is None:
        raise ValueError("worker not found")
    return WorkerInfo(
        _Meta(str(w.id)),
        w.name,
        worker_status(w),
        w.last_heartbeat,
        [{"key": k, "value": v} for k, v in (w.labels or {}).items()],
        w.slots,
        w.pool,
    )


class WorkersClient:
    def list(self) -> _Rows:
        return _Rows(run_db(lambda: [_worker_info(w) for w in services.workers_newest_first()]))

    async def aio_list(self) -> _Rows:
        return await aio_db(self.list)

    def get(self, worker_id: str) -> WorkerInfo:
        return _worker_info(run_db(lambda: services.get_worker(worker_id)))

    async def aio_get(self, worker_id: str) -> WorkerInfo:
        return await aio_db(lambda: self.get(worker_id))

    def pause(self, worker_id: str) -> WorkerInfo:
        unsupported("pause", "hatchet.workers")
        run_db(lambda: services.pause_worker(worker_id))
        return self.get(worker_id)

    def unpause(self, worker_id: str) -> WorkerInfo:
        run_db(lambda: services.unpause_worker(worker_id))
        return self.get(worker_id)


class RateLimitsClient:
    def put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        from sfpserver.hatchet.types import RATE_LIMIT_SECONDS

        window = RATE_LIMIT_SECONDS[RateLimitDuration(duration)]
        run_db(lambda: services.put_rate_limit(key, limit, window))

    async def aio_put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        await aio_db(lambda: self.put(key, limit, duration))
