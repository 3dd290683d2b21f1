"""The feature clients: `hatchet.event`, `cron`, `scheduled`, `workflows`, `workers`, `rate_limits`."""

from __future__ import annotations

import builtins
import fnmatch
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from sfpserver.engine import services
from sfpserver.engine.services import (
    InvalidWorkflowError,
    ScheduledRunView,
    WorkerView,
    refuse_unstorable,
    start_many,
)
from sfpserver.engine.services import WorkerStatus as EngineWorkerStatus
from sfpserver.hatchet.config import ClientConfig
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.event_reads import EventQuery, V1Event, V1EventList, get_event, list_events
from sfpserver.hatchet.eventfilters import Event as FilterEvent
from sfpserver.hatchet.eventfilters import triggers_for
from sfpserver.hatchet.types import (
    BulkPushEventWithMetadata,
    PushEventOptions,
    RateLimitDuration,
    V1TaskStatus,
    WorkerLabel,
    WorkerStatus,
    duration_seconds,
)
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
    key: str,
    payload: dict[str, Any],
    metadata: dict[str, Any],
    priority: int | None,
    scope: str | None,
    webhook: str | None = None,
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
            key=key,
            payload=payload,
            additional_metadata=metadata,
            scope=scope,
            priority=priority,
            triggering_webhook_name=webhook,
        )
        services.deliver_event(_fact(row))
    run_metadata = {**metadata, "hatchet__event_id": str(row.id), "hatchet__event_key": key}
    # Which workflows start, and with which filter payloads: event filters and scopes (eventfilters.py).
    requests = triggers_for(FilterEvent(str(row.id), key, payload, metadata, scope), run_metadata, priority)
    if requests:
        start_many(requests)  # a run whose idempotency key another run holds is dropped, as Hatchet drops it
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
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()

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
        key = self.config.apply_namespace(event_key, opts.namespace)
        return run_db(lambda: _push(key, payload, metadata, priority or opts.priority, scope or opts.scope))

    async def aio_push(self, event_key: str, payload: dict[str, Any], **kwargs: Any) -> Event:
        return await aio_db(lambda: self.push(event_key, payload, **kwargs))

    def bulk_push(self, events: list[BulkPushEventWithMetadata], options: Any = None) -> list[Event]:
        return [
            self.push(e.key, e.payload, additional_metadata=e.additional_metadata, priority=e.priority, scope=e.scope)
            for e in events
        ]

    async def aio_bulk_push(self, events: list[BulkPushEventWithMetadata], options: Any = None) -> list[Event]:
        return await aio_db(lambda: self.bulk_push(events, options))

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        keys: builtins.list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        workflow_ids: builtins.list[str] | None = None,
        workflow_run_statuses: builtins.list[V1TaskStatus] | None = None,
        event_ids: builtins.list[str] | None = None,
        additional_metadata: dict[str, Any] | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> V1EventList:
        query = EventQuery(
            offset=offset or 0,
            limit=limit or 50,
            keys=[self.config.apply_namespace(k) for k in keys] if keys else None,
            since=since,
            until=until,
            workflow_ids=workflow_ids,
            statuses=[str(getattr(s, "value", s)) for s in workflow_run_statuses] if workflow_run_statuses else None,
            event_ids=event_ids,
            additional_metadata=additional_metadata,
            scopes=scopes,
        )
        return run_db(lambda: list_events(query))

    async def aio_list(self, **filters: Any) -> V1EventList:
        return await aio_db(lambda: self.list(**filters))

    def get(self, event_id: str) -> V1Event:
        return run_db(lambda: get_event(event_id))

    async def aio_get(self, event_id: str) -> V1Event:
        return await aio_db(lambda: get_event(event_id))


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
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()

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
        workflow_name = self.config.apply_namespace(workflow_name)
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
        name = self.config.apply_namespace(workflow_name)
        return run_db(lambda: [_cron(cron) for cron in services.list_crons(name)])

    async def aio_list(self, workflow_name: str | None = None, **filters: Any) -> builtins.list[CronWorkflows]:
        return await aio_db(lambda: self.list(workflow_name, **filters))

    def get(self, cron_id: str) -> CronWorkflows:
        def read() -> CronWorkflows:
            found = [cron for cron in services.list_crons(None) if str(cron.id) == str(cron_id)]
            if not found:
                raise ValueError(f"cron {cron_id} not found")
            return _cron(found[0])

        return run_db(read)

    async def aio_get(self, cron_id: str) -> CronWorkflows:
        return await aio_db(lambda: self.get(cron_id))


def _cron(cron: Any) -> CronWorkflows:
    return CronWorkflows(
        _Meta(str(cron.id)),
        cron.workflow_name,
        cron.expression,
        cron.name.split(":", 1)[-1],
        cron.input,
        cron.additional_metadata,
        cron.enabled,
    )


@dataclass
class ScheduledWorkflows:
    metadata: Any
    workflow_name: str
    trigger_at: datetime
    input: Any
    additional_metadata: dict[str, Any]
    status: str
    workflow_run_id: str | None


@dataclass
class BulkUpdateResult:
    updated_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


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
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()

    def create(
        self,
        workflow_name: str,
        trigger_at: datetime,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledWorkflows:
        when = trigger_at.replace(tzinfo=UTC) if trigger_at.tzinfo is None else trigger_at
        workflow_name = self.config.apply_namespace(workflow_name)
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

    async def aio_get(self, scheduled_id: str) -> ScheduledWorkflows:
        return await aio_db(lambda: self.get(scheduled_id))

    def list(self, workflow_name: str | None = None, **filters: Any) -> list[ScheduledWorkflows]:
        if any(value is not None for value in filters.values()):
            unsupported("filters", "hatchet.scheduled.list")
        name = self.config.apply_namespace(workflow_name)

        def read() -> list[ScheduledWorkflows]:
            return [_scheduled(r) for r in services.list_scheduled_runs(name)]

        return run_db(read)

    async def aio_list(self, workflow_name: str | None = None, **filters: Any) -> builtins.list[ScheduledWorkflows]:
        return await aio_db(lambda: self.list(workflow_name, **filters))

    def update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledWorkflows:
        run_db(lambda: services.reschedule_run(scheduled_id, trigger_at))
        return self.get(scheduled_id)

    async def aio_update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledWorkflows:
        return await aio_db(lambda: self.update(scheduled_id, trigger_at))

    def bulk_update(self, updates: builtins.list[Any]) -> BulkUpdateResult:
        """Reschedule several scheduled runs: `(scheduled_id, trigger_at)` tuples or items with `id`, `trigger_at`."""
        result = BulkUpdateResult()
        for update in updates:
            scheduled_id, trigger_at = update if isinstance(update, tuple) else (update.id, update.trigger_at)
            try:
                self.update(str(scheduled_id), trigger_at)
            except Exception as exc:  # noqa: BLE001 - one item's error is reported, the others still apply
                result.errors.append({"id": str(scheduled_id), "error": str(exc)})
            else:
                result.updated_ids.append(str(scheduled_id))
        return result

    async def aio_bulk_update(self, updates: builtins.list[Any]) -> BulkUpdateResult:
        return await aio_db(lambda: self.bulk_update(updates))

    def delete(self, scheduled_id: str) -> None:
        run_db(lambda: services.cancel_scheduled_run(scheduled_id))

    async def aio_delete(self, scheduled_id: str) -> None:
        await aio_db(lambda: self.delete(scheduled_id))

    def bulk_delete(self, scheduled_ids: builtins.list[str] | None = None, **filters: Any) -> None:
        if any(value is not None for value in filters.values()):
            unsupported("filters", "hatchet.scheduled.bulk_delete")
        for scheduled_id in scheduled_ids or []:
            self.delete(scheduled_id)

    async def aio_bulk_delete(self, scheduled_ids: builtins.list[str] | None = None, **filters: Any) -> None:
        await aio_db(lambda: self.bulk_delete(scheduled_ids, **filters))


# --- workflows, workers, rate limits ------------------------------------------------------------------------


@dataclass
class WorkflowSummary:
    metadata: Any
    name: str
    description: str | None = None


class WorkflowsClient:
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()

    def list(self, workflow_name: str | None = None, limit: int | None = None, offset: int | None = None) -> Any:
        wanted = self.config.apply_namespace(workflow_name)

        def read() -> list[WorkflowSummary]:
            names = [name for name in services.definition_names() if not wanted or name == wanted]
            start = offset or 0
            return [WorkflowSummary(_Meta(name), name) for name in names[start : start + (limit or 1000)]]

        return _Rows(run_db(read))

    async def aio_list(
        self, workflow_name: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> Any:
        return await aio_db(lambda: self.list(workflow_name, limit, offset))

    def get(self, workflow_id: str) -> WorkflowSummary:
        row = run_db(lambda: services.get_definition(workflow_id))
        if row is None:
            raise ValueError(f"workflow {workflow_id!r} not found")
        return WorkflowSummary(_Meta(row.name), row.name)

    async def aio_get(self, workflow_id: str) -> WorkflowSummary:
        return await aio_db(lambda: self.get(workflow_id))

    def delete(self, workflow_id: str) -> None:
        run_db(lambda: services.delete_definition(workflow_id))

    async def aio_delete(self, workflow_id: str) -> None:
        await aio_db(lambda: self.delete(workflow_id))

    def pause(
        self,
        workflow_id: str,
        queue_ttl: Any,
        paused_workflow_cron_run_queue_behavior: str = "QUEUE",
        paused_workflow_scheduled_run_queue_behavior: str = "QUEUE",
    ) -> WorkflowSummary:
        """Pause a workflow (engine/pause.py): its new runs wait until it is unpaused, at most `queue_ttl`."""
        if queue_ttl is None:
            raise InvalidWorkflowError("queue_ttl", "a queue TTL is required (a timedelta)")
        seconds = duration_seconds(queue_ttl, 0.0)
        run_db(
            lambda: services.pause_workflow(
                workflow_id,
                seconds,
                cron_behavior=paused_workflow_cron_run_queue_behavior,
                scheduled_behavior=paused_workflow_scheduled_run_queue_behavior,
            )
        )
        return WorkflowSummary(_Meta(workflow_id), workflow_id)

    async def aio_pause(self, workflow_id: str, queue_ttl: Any, *args: Any, **kwargs: Any) -> WorkflowSummary:
        return await aio_db(lambda: self.pause(workflow_id, queue_ttl, *args, **kwargs))

    def unpause(self, workflow_id: str) -> WorkflowSummary:
        """Unpause a workflow: the runs its pause held start, oldest first."""
        run_db(lambda: services.unpause_workflow(workflow_id))
        return WorkflowSummary(_Meta(workflow_id), workflow_id)

    async def aio_unpause(self, workflow_id: str) -> WorkflowSummary:
        return await aio_db(lambda: self.unpause(workflow_id))


@dataclass
class _Rows:
    rows: list[Any]


@dataclass
class WorkerInfo:
    metadata: Any
    name: str
    status: WorkerStatus
    last_heartbeat_at: datetime
    labels: list[WorkerLabel]
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
        [WorkerLabel(key=k, value=v) for k, v in (w.labels or {}).items()],
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

    async def aio_pause(self, worker_id: str) -> WorkerInfo:
        return await aio_db(lambda: self.pause(worker_id))

    def unpause(self, worker_id: str) -> WorkerInfo:
        run_db(lambda: services.unpause_worker(worker_id))
        return self.get(worker_id)

    async def aio_unpause(self, worker_id: str) -> WorkerInfo:
        return await aio_db(lambda: self.unpause(worker_id))


class RateLimitsClient:
    def put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        from sfpserver.hatchet.types import RATE_LIMIT_SECONDS

        window = RATE_LIMIT_SECONDS[RateLimitDuration(duration)]
        run_db(lambda: services.put_rate_limit(key, limit, window))

    async def aio_put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        await aio_db(lambda: self.put(key, limit, duration))
