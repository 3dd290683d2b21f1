"""`Hatchet()`: the entry point, configured from the Django settings (no token, no gRPC)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sfpserver.hatchet.config import ClientConfig
from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.engine_support import engine_version
from sfpserver.hatchet.features import (
    CronClient,
    EventClient,
    RateLimitsClient,
    ScheduledClient,
    WorkersClient,
    WorkflowsClient,
)
from sfpserver.hatchet.logs import LogsClient
from sfpserver.hatchet.options import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_SCHEDULE_TIMEOUT,
    TaskOptions,
    WorkflowOptions,
    concurrency_list,
    label_tuple,
)
from sfpserver.hatchet.routing_clients import FiltersClient, WebhooksClient
from sfpserver.hatchet.runs import RunsClient
from sfpserver.hatchet.setup import ensure_django
from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    Duration,
    Priority,
    RateLimit,
    TaskDefaults,
    WorkerLabel,
)
from sfpserver.hatchet.unsupported import unsupported
from sfpserver.hatchet.worker import Worker
from sfpserver.hatchet.workflow import Standalone, Workflow

R = TypeVar("R")
_CONFIG_IGNORED = (
    "the client is configured from the Django settings: only namespace, logger, disable_log_capture and debug are used"
)


class Hatchet:
    def __init__(self, debug: bool | None = None, client: Any = None, config: ClientConfig | None = None) -> None:
        ensure_django()
        if config is not None and not isinstance(config, ClientConfig):
            raise TypeError(f"config must be a ClientConfig, not {type(config).__name__}")
        self.config = config if config is not None else ClientConfig()
        if self.config.unused_fields():
            unsupported("config", "Hatchet", f"{', '.join(self.config.unused_fields())} given; {_CONFIG_IGNORED}")
        self.debug = bool(debug) or self.config.debug
        self.runs = RunsClient(self.config)
        self.event = EventClient(self.config)
        self.cron = CronClient(self.config)
        self.scheduled = ScheduledClient(self.config)
        self.workflows = WorkflowsClient(self.config)
        self.workers = WorkersClient()
        self.rate_limits = RateLimitsClient()
        self.logs = LogsClient()
        self.webhooks = WebhooksClient()
        self.filters = FiltersClient()

    @property
    def tenant_id(self) -> str:
        return "default"

    @property
    def namespace(self) -> str:
        return self.config.namespace

    async def aio_get_engine_version(self) -> str | None:
        """The Hatchet engine version whose features this platform offers (`engine_support`)."""
        return engine_version()

    @property
    def current_context(self) -> Any:
        return current_context.get()

    def get_current_context(self) -> Any:
        warnings.warn(
            "get_current_context is deprecated; use the current_context property", DeprecationWarning, stacklevel=2
        )
        return current_context.get()

    def workflow(
        self,
        *,
        name: str,
        description: str | None = None,
        input_validator: Any = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int | Priority = Priority.LOW,
        concurrency: int | ConcurrencyExpression | list[ConcurrencyExpression] | None = None,
        task_defaults: TaskDefaults | None = None,
        default_filters: list[Any] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: Any = None,
    ) -> Workflow[Any]:
        options = WorkflowOptions(
            name=name,
            description=description,
            input_validator=input_validator,
            on_events=tuple(on_events or ()),
            on_crons=tuple(on_crons or ()),
            cron_input=cron_input,
            version=version,
            sticky=sticky,
            default_priority=default_priority,
            concurrency=concurrency_list(concurrency),
            task_defaults=task_defaults or TaskDefaults(),
            default_filters=tuple(default_filters or ()),
            default_additional_metadata=dict(default_additional_metadata or {}),
            idempotency=idempotency,
        )
        return Workflow(self, options)

    def task(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        input_validator: Any = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int | Priority = Priority.LOW,
        concurrency: int | ConcurrencyExpression | list[ConcurrencyExpression] | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        default_filters: list[Any] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: Any = None,
        slot_cost: int | None = None,
    ) -> Callable[[Callable[..., R]], Standalone[Any, R]]:
        task = TaskOptions(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=tuple(rate_limits or ()),
            desired_worker_labels=label_tuple(desired_worker_labels),
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency_list(concurrency),
            slot_cost=slot_cost,
        )
        workflow = WorkflowOptions(
            name=name or "",
            description=description,
            input_validator=input_validator,
            on_events=tuple(on_events or ()),
            on_crons=tuple(on_crons or ()),
            cron_input=cron_input,
            version=version,
            sticky=sticky,
            default_priority=default_priority,
            default_filters=tuple(default_filters or ()),
            default_additional_metadata=dict(default_additional_metadata or {}),
            idempotency=idempotency,
        )
        return self._standalone(workflow, task)

    def durable_task(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        input_validator: Any = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int | Priority = Priority.LOW,
        concurrency: int | ConcurrencyExpression | list[ConcurrencyExpression] | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        default_filters: list[Any] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: Any = None,
        eviction_policy: Any = None,
    ) -> Callable[[Callable[..., R]], Standalone[Any, R]]:
        task = TaskOptions(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=tuple(rate_limits or ()),
            desired_worker_labels=label_tuple(desired_worker_labels),
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency_list(concurrency),
            durable=True,
            eviction_policy=eviction_policy,
        )
        workflow = WorkflowOptions(
            name=name or "",
            description=description,
            input_validator=input_validator,
            on_events=tuple(on_events or ()),
            on_crons=tuple(on_crons or ()),
            cron_input=cron_input,
            version=version,
            sticky=sticky,
            default_priority=default_priority,
            default_filters=tuple(default_filters or ()),
            default_additional_metadata=dict(default_additional_metadata or {}),
            idempotency=idempotency,
        )
        return self._standalone(workflow, task)

    def batch_task(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        input_validator: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int | Priority = Priority.LOW,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        default_filters: list[Any] | None = None,
        batch_max_size: int,
        batch_max_interval: Duration | None = None,
        batch_group_key: str | None = None,
        batch_group_max_runs: int | None = None,
        broadcast_output: bool = False,
    ) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        """A standalone batch task (sfpserver/hatchet/batch.py): each run is one member of a batch."""
        from sfpserver.hatchet.batch_options import settings

        task = TaskOptions(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            rate_limits=tuple(rate_limits or ()),
            desired_worker_labels=label_tuple(desired_worker_labels),
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            batch=settings(batch_max_size, batch_max_interval, batch_group_key, batch_group_max_runs, broadcast_output),
        )
        workflow = WorkflowOptions(
            name=name or "",
            description=description,
            input_validator=input_validator,
            version=version,
            sticky=sticky,
            default_priority=default_priority,
            default_filters=tuple(default_filters or ()),
        )
        return self._standalone(workflow, task)

    def _standalone(
        self, workflow: WorkflowOptions, task: TaskOptions
    ) -> Callable[[Callable[..., R]], Standalone[Any, R]]:
        """A one-task workflow and its task, both named after the function unless `name` was given; the
        workflow-level keywords of `hatchet.task` went to the workflow, concurrency to the task (as in Hatchet)."""

        def decorator(fn: Callable[..., R]) -> Standalone[Any, R]:
            name = workflow.name or fn.__name__
            standalone: Standalone[Any, R] = Standalone(self, dataclasses.replace(workflow, name=name))
            standalone.add_options(dataclasses.replace(task, name=name))(fn)
            return standalone

        return decorator

    def worker(
        self,
        name: str,
        slots: int | None = None,
        durable_slots: int | None = None,
        labels: dict[str, str | int] | list[WorkerLabel] | None = None,
        workflows: list[Any] | None = None,
        lifespan: Callable[[], AsyncGenerator[Any, None]] | None = None,
    ) -> Worker:
        return Worker(
            self.config.apply_namespace(name),
            config=self.config,
            slots=slots,
            durable_slots=durable_slots,
            labels=labels,
            workflows=workflows,
            lifespan=lifespan,
        )


__all__ = ["Hatchet", "ensure_django", "timedelta"]
