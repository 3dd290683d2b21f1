"""Workflows (Hatchet's `runnables/workflow.py`): `BaseWorkflow` holds the options, the input and the
triggering methods; `Workflow` adds the task decorators and hooks; `Standalone` is a one-task workflow whose
run returns that task's typed output.

Every decorator here keeps Hatchet's explicit keyword signature and builds a `TaskOptions`; the definition
the engine runs comes from `definition.compile_workflow`, triggering goes through `trigger`, results
through `refs`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from warnings import warn

from pydantic import BaseModel, TypeAdapter, ValidationError

from sfpserver.hatchet.dbsync import aio_db
from sfpserver.hatchet.definition import compile_workflow
from sfpserver.hatchet.options import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_SCHEDULE_TIMEOUT,
    TaskOptions,
    WorkflowOptions,
    concurrency_list,
    label_tuple,
)
from sfpserver.hatchet.refs import TaskRunRef, WorkflowRunRef
from sfpserver.hatchet.serde import HATCHET_PYDANTIC_SENTINEL, serialization_context
from sfpserver.hatchet.task import Task
from sfpserver.hatchet.trigger import trigger_workflow, trigger_workflows, with_run_options
from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    Duration,
    EmptyModel,
    RateLimit,
    TriggerWorkflowOptions,
    WorkflowRunTriggerConfig,
)
from sfpserver.hatchet.unsupported import unsupported

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation, WorkflowDef
    from sfpserver.hatchet.client import Hatchet

TWorkflowInput = TypeVar("TWorkflowInput")
R = TypeVar("R")

# The pydantic context of an input validated when its run is triggered: Hatchet's serialisation context, and
# `at_trigger` (our extension). Everywhere else inputs and outputs see HATCHET_PYDANTIC_SENTINEL.
TRIGGER_CONTEXT = serialization_context(at_trigger=True)


def default_filter(value: Any) -> dict[str, Any]:
    """A `DefaultFilter` (or a mapping of its fields) as the definition's spec stores it."""
    from sfpserver.hatchet.types import DefaultFilter

    return DefaultFilter.model_validate(value if isinstance(value, dict) else dict(value)).model_dump(mode="json")


def _adapter(validator: Any) -> TypeAdapter[Any]:
    return TypeAdapter(validator if validator is not None else EmptyModel)


def _namespace(client: Any) -> str:
    return str(getattr(client, "namespace", "") or "")


def _apply_namespace(client: Any, name: str) -> str:
    """An event key with the client's namespace in front (unless it already starts with it), as Hatchet's."""
    namespace = _namespace(client)
    return name if not namespace or name.startswith(namespace) else namespace + name


def to_jsonable(adapter: TypeAdapter[Any], value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", context=HATCHET_PYDANTIC_SENTINEL)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return TypeAdapter(type(value)).dump_python(value, mode="json", context=HATCHET_PYDANTIC_SENTINEL)
    validated = adapter.validate_python(value, context=HATCHET_PYDANTIC_SENTINEL)
    return adapter.dump_python(validated, mode="json", context=HATCHET_PYDANTIC_SENTINEL)


class BaseWorkflow(Generic[TWorkflowInput]):
    def __init__(self, client: Hatchet, options: WorkflowOptions) -> None:
        self._client = client
        self.options = options
        self.name = _namespace(client) + options.name  # Hatchet's rule: the client's namespace, then the name
        self.description = options.description
        self.input_validator = options.input_validator or EmptyModel
        self._input_adapter = _adapter(self.input_validator)
        self.on_events = list(options.on_events)
        self.on_crons = list(options.on_crons)
        self.cron_input = options.cron_input
        self.version = options.version
        self.sticky = options.sticky
        self.default_priority = int(options.default_priority)
        self.concurrency = list(options.concurrency)
        self.task_defaults = options.task_defaults
        self.default_additional_metadata = dict(options.default_additional_metadata)
        self.tasks: list[Task[TWorkflowInput, Any]] = []
        self.on_failure: Task[TWorkflowInput, Any] | None = None
        self.on_success: Task[TWorkflowInput, Any] | None = None
        self._compiled: tuple[tuple[Any, ...], WorkflowDef] | None = None  # to_definition's: (shape, definition)
        options.warn_unsupported()

    @property
    def service_name(self) -> str:
        return self.name.lower()

    @property
    def id(self) -> str:
        return self.name

    # Input -----------------------------------------------------------------------------------------------
    def validate_input(self, raw: Any, *, at_trigger: bool = False) -> Any:
        """The typed input. At trigger, validators see the context `{"at_trigger": True}` (an extension: checks
        that read the database, such as which credentials an input may name, run then and not on the worker)."""
        context = TRIGGER_CONTEXT if at_trigger else HATCHET_PYDANTIC_SENTINEL
        return self._input_adapter.validate_python(raw if raw is not None else {}, context=context)

    def serialize_input(self, value: Any) -> Any:
        if value is None or (isinstance(value, EmptyModel) and not value.model_dump()):
            return None
        data = to_jsonable(self._input_adapter, value)
        return data or None

    # Definition -------------------------------------------------------------------------------------------
    def all_tasks(self) -> list[Task[TWorkflowInput, Any]]:
        return [
            *self.tasks,
            *([self.on_failure] if self.on_failure else []),
            *([self.on_success] if self.on_success else []),
        ]

    def to_definition(self) -> WorkflowDef:
        """The engine definition; raises ValueError for what Hatchet refuses at registration. Compiled once per
        shape (its tasks, its client's namespace), not on every trigger."""
        shape = (tuple(map(id, self.all_tasks())), _namespace(self._client))
        cached = self._compiled
        if cached is None or cached[0] != shape:
            cached = self._compiled = (shape, compile_workflow(self, self._engine_input))
        return cached[1]

    def _engine_input(self, raw: Any) -> Any:
        """Validates input at trigger time, wherever the run is triggered from (SDK, API, cron). The error
        names each field and problem but never quotes the input (it may hold something secret)."""
        try:
            return self.serialize_input(self.validate_input(raw, at_trigger=True))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None

    def spec_extras(self) -> dict[str, Any]:
        return {
            "on_events": [_apply_namespace(self._client, key) for key in self.on_events],
            "on_crons": self.on_crons,
            "cron_input": self.serialize_input(self.cron_input) if self.cron_input is not None else None,
            "default_filters": [default_filter(f) for f in self.options.default_filters],
        }

    def handlers(self, lifespan: Callable[[], Any] | None = None) -> dict[str, Callable[[Any], Any]]:
        return {t.action: _bind(t, lifespan) for t in self.all_tasks()}

    # Triggering ----------------------------------------------------------------------------------------
    def _trigger(
        self,
        input: Any,
        options: TriggerWorkflowOptions | None,
        *,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> str:
        opts = options or TriggerWorkflowOptions()
        return trigger_workflow(
            self,
            self.serialize_input(input),
            child_key=child_key or opts.child_key,
            child_index=opts.child_index,
            additional_metadata={**opts.additional_metadata, **(additional_metadata or {})},
            priority=priority if priority is not None else opts.priority,
            options=opts,
        )

    def create_bulk_run_item(
        self,
        input: Any = None,
        key: str | None = None,
        options: TriggerWorkflowOptions | None = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        desired_worker_id: str | None = None,
        sticky: bool = False,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> WorkflowRunTriggerConfig:
        options = with_run_options(options, sticky, desired_worker_id, desired_worker_labels)
        opts = options.model_copy(
            update={
                "child_key": child_key or (options.child_key if options else None),
                "additional_metadata": {
                    **((options.additional_metadata if options else {}) or {}),
                    **(additional_metadata or {}),
                },
                "priority": priority if priority is not None else (options.priority if options else None),
            }
        )
        return WorkflowRunTriggerConfig(
            workflow_name=self.name, input=self.serialize_input(input), options=opts, key=key
        )

    def _trigger_many(self, workflows: list[WorkflowRunTriggerConfig]) -> list[str]:
        return trigger_workflows(self, workflows)

    def schedule(
        self,
        run_at: datetime,
        input: Any = None,
        options: Any = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> Any:
        if child_key is not None or getattr(options, "child_key", None) is not None:
            unsupported("child_key", "schedule")
        metadata = {**(getattr(options, "additional_metadata", None) or {}), **(additional_metadata or {})}
        return self._client.scheduled.create(
            workflow_name=self.name,
            trigger_at=run_at,
            input=self.serialize_input(input) or {},
            additional_metadata=metadata,
            priority=priority if priority is not None else getattr(options, "priority", None),
        )

    async def aio_schedule(self, run_at: datetime, input: Any = None, **kwargs: Any) -> Any:
        return await aio_db(lambda: self.schedule(run_at, input, **kwargs))

    def create_cron(
        self,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> Any:
        return self._client.cron.create(
            workflow_name=self.name,
            cron_name=cron_name,
            expression=expression,
            input=self.serialize_input(input) or {},
            additional_metadata=additional_metadata or {},
            priority=priority,
        )

    async def aio_create_cron(self, cron_name: str, expression: str, input: Any = None, **kwargs: Any) -> Any:
        return await aio_db(lambda: self.create_cron(cron_name, expression, input, **kwargs))

    def list_runs(self, **filters: Any) -> list[Any]:
        return list(self._client.runs.list(workflow_ids=[self.name], **filters).rows)

    async def aio_list_runs(self, **filters: Any) -> list[Any]:
        return list((await self._client.runs.aio_list(workflow_ids=[self.name], **filters)).rows)

    def delete(self) -> None:
        """Delete the workflow's definition (as `hatchet.workflows.delete(workflow.id)`)."""
        self._client.workflows.delete(self.id)

    async def aio_delete(self) -> None:
        await self._client.workflows.aio_delete(self.id)

    # Pause (engine/pause.py through the workflows client) -----------------------------------------------------
    def pause(
        self,
        queue_ttl: Any,
        paused_workflow_cron_run_queue_behavior: str = "QUEUE",
        paused_workflow_scheduled_run_queue_behavior: str = "QUEUE",
    ) -> Any:
        """New runs are created but wait until `unpause()`; one waiting longer than `queue_ttl` is cancelled.
        Cron firings start such waiting runs ("QUEUE") or are skipped ("DROP"); scheduled runs fall due into the
        paused queue ("QUEUE") or stay scheduled until the unpause ("DROP")."""
        return self._client.workflows.pause(
            self.id, queue_ttl, paused_workflow_cron_run_queue_behavior, paused_workflow_scheduled_run_queue_behavior
        )

    async def aio_pause(
        self,
        queue_ttl: Any,
        paused_workflow_cron_run_queue_behavior: str = "QUEUE",
        paused_workflow_scheduled_run_queue_behavior: str = "QUEUE",
    ) -> Any:
        return await aio_db(
            lambda: self.pause(
                queue_ttl, paused_workflow_cron_run_queue_behavior, paused_workflow_scheduled_run_queue_behavior
            )
        )

    def unpause(self) -> Any:
        """Release the runs the pause held, oldest first."""
        return self._client.workflows.unpause(self.id)

    async def aio_unpause(self) -> Any:
        return await aio_db(self.unpause)


def _bind(task: Task[Any, Any], lifespan: Callable[[], Any] | None) -> Callable[[Any], Any]:
    if task.options.batch is not None:
        from sfpserver.hatchet.batch import bind

        return bind(task, lifespan)  # takes the batch's invocations

    def handler(inv: Invocation) -> Any:
        return task.handle(inv, lifespan() if lifespan else None)

    return handler


class Workflow(BaseWorkflow[TWorkflowInput]):
    # Declaring tasks -------------------------------------------------------------------------------------
    def task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        parents: list[Task[TWorkflowInput, Any]] | None = None,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
        wait_for: list[Any] | None = None,
        skip_if: list[Any] | None = None,
        cancel_if: list[Any] | None = None,
        slot_cost: int | None = None,
        credentials: list[str] | None = None,
        credentials_from_input: list[str] | None = None,
        continue_on_failure: bool = False,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        return self.add_options(
            TaskOptions(
                name=name,
                schedule_timeout=schedule_timeout,
                execution_timeout=execution_timeout,
                parents=tuple(parents or ()),
                retries=retries,
                rate_limits=tuple(rate_limits or ()),
                desired_worker_labels=label_tuple(desired_worker_labels),
                backoff_factor=backoff_factor,
                backoff_max_seconds=backoff_max_seconds,
                concurrency=concurrency_list(concurrency),
                wait_for=tuple(wait_for or ()),
                skip_if=tuple(skip_if or ()),
                cancel_if=tuple(cancel_if or ()),
                slot_cost=slot_cost,
                credentials=tuple(credentials or ()),
                credentials_from_input=tuple(credentials_from_input or ()),
                continue_on_failure=continue_on_failure,
            )
        )

    def durable_task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        parents: list[Task[TWorkflowInput, Any]] | None = None,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
        wait_for: list[Any] | None = None,
        skip_if: list[Any] | None = None,
        cancel_if: list[Any] | None = None,
        eviction_policy: Any = None,
        credentials: list[str] | None = None,
        credentials_from_input: list[str] | None = None,
        continue_on_failure: bool = False,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        return self.add_options(
            TaskOptions(
                name=name,
                schedule_timeout=schedule_timeout,
                execution_timeout=execution_timeout,
                parents=tuple(parents or ()),
                retries=retries,
                rate_limits=tuple(rate_limits or ()),
                desired_worker_labels=label_tuple(desired_worker_labels),
                backoff_factor=backoff_factor,
                backoff_max_seconds=backoff_max_seconds,
                concurrency=concurrency_list(concurrency),
                wait_for=tuple(wait_for or ()),
                skip_if=tuple(skip_if or ()),
                cancel_if=tuple(cancel_if or ()),
                durable=True,
                eviction_policy=eviction_policy,
                credentials=tuple(credentials or ()),
                credentials_from_input=tuple(credentials_from_input or ()),
                continue_on_failure=continue_on_failure,
            )
        )

    def batch_task(
        self,
        name: str | None = None,
        *,
        batch_max_size: int,
        batch_max_interval: Duration | None = None,
        batch_group_key: str | None = None,
        batch_group_max_runs: int | None = None,
        broadcast_output: bool = False,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        parents: list[Task[TWorkflowInput, Any]] | None = None,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """A batch task (sfpserver/hatchet/batch.py): runs once per batch of runs, flushed on size and on time."""
        from sfpserver.hatchet.batch_options import settings

        batch = settings(batch_max_size, batch_max_interval, batch_group_key, batch_group_max_runs, broadcast_output)
        return self.add_options(
            TaskOptions(
                name=name,
                schedule_timeout=schedule_timeout,
                execution_timeout=execution_timeout,
                parents=tuple(parents or ()),
                rate_limits=tuple(rate_limits or ()),
                desired_worker_labels=label_tuple(desired_worker_labels),
                backoff_factor=backoff_factor,
                backoff_max_seconds=backoff_max_seconds,
                batch=batch,
            )
        )

    def add_options(self, options: TaskOptions) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        """The decorator of a task with these options (the workflow's task defaults filling the rest)."""
        resolved = options.with_defaults(self.task_defaults)

        def decorator(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            task: Task[TWorkflowInput, R] = Task(fn, self, resolved)
            self.tasks.append(task)
            return task

        return decorator

    # Hooks ----------------------------------------------------------------------------------------------
    def on_failure_task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        options = TaskOptions(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=tuple(rate_limits or ()),
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency_list(concurrency),
        )
        return self._hook("ON_FAILURE", options)

    def on_success_task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        options = TaskOptions(
            name=name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=tuple(rate_limits or ()),
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency_list(concurrency),
        )
        return self._hook("ON_SUCCESS", options)

    def _hook(self, kind: str, options: TaskOptions) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        suffix = "-on-failure" if kind == "ON_FAILURE" else "-on-success"

        def decorator(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            current = self.on_failure if kind == "ON_FAILURE" else self.on_success
            if current is not None:
                raise ValueError(f"Workflow {self.name} already has an {suffix.strip('-').replace('-', ' ')} task")
            named = dataclasses.replace(options, name=f"{(options.name or fn.__name__).lower()}{suffix}")
            task: Task[TWorkflowInput, R] = Task(fn, self, named, kind=kind)
            if kind == "ON_FAILURE":
                self.on_failure = task
            else:
                self.on_success = task
            return task

        return decorator

    def add_task(self, task: Standalone[Any, Any]) -> None:
        original = task._task
        copy: Task[TWorkflowInput, Any] = Task(original.fn, self, dataclasses.replace(original.options, parents=()))
        self.tasks.append(copy)

    # Running ---------------------------------------------------------------------------------------------
    def run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        sticky: bool = False,
        desired_worker_id: str | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> Any:
        options = with_run_options(options, sticky, desired_worker_id, desired_worker_labels)
        ref = self._ref(
            self._trigger(
                input, options, child_key=child_key, additional_metadata=additional_metadata, priority=priority
            )
        )
        return ref.result() if wait_for_result else ref

    async def aio_run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        sticky: bool = False,
        desired_worker_id: str | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> Any:
        options = with_run_options(options, sticky, desired_worker_id, desired_worker_labels)
        ctx = contextvars.copy_context()
        run_id = await aio_db(
            lambda: ctx.run(
                self._trigger,
                input,
                options,
                child_key=child_key,
                additional_metadata=additional_metadata,
                priority=priority,
            )
        )
        ref = self._ref(run_id)
        return await ref.aio_result() if wait_for_result else ref

    def run_no_wait(self, input: Any = None, options: TriggerWorkflowOptions | None = None, **kwargs: Any) -> Any:
        warn("run_no_wait is deprecated; use run(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return self.run(input, options, wait_for_result=False, **kwargs)

    async def aio_run_no_wait(
        self, input: Any = None, options: TriggerWorkflowOptions | None = None, **kwargs: Any
    ) -> Any:
        warn("aio_run_no_wait is deprecated; use aio_run(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return await self.aio_run(input, options, wait_for_result=False, **kwargs)

    def run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        refs = [self._ref(run_id) for run_id in self._trigger_many(workflows)]
        if not wait_for_result:
            return refs
        results: list[Any] = []
        for ref in refs:
            try:
                results.append(ref.result())
            except Exception as exc:
                if not return_exceptions:
                    raise
                results.append(exc)
        return results

    async def aio_run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        ctx = contextvars.copy_context()
        run_ids = await aio_db(lambda: ctx.run(self._trigger_many, workflows))
        refs = [self._ref(run_id) for run_id in run_ids]
        if not wait_for_result:
            return refs
        return list(await asyncio.gather(*(r.aio_result() for r in refs), return_exceptions=return_exceptions))

    def run_many_no_wait(self, workflows: list[WorkflowRunTriggerConfig]) -> list[Any]:
        warn("run_many_no_wait is deprecated; use run_many(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return self.run_many(workflows, wait_for_result=False)

    async def aio_run_many_no_wait(self, workflows: list[WorkflowRunTriggerConfig]) -> list[Any]:
        warn("aio_run_many_no_wait is deprecated", DeprecationWarning, stacklevel=2)
        return await self.aio_run_many(workflows, wait_for_result=False)

    def _ref(self, run_id: str) -> WorkflowRunRef:
        return WorkflowRunRef(run_id)


class Standalone(Workflow[TWorkflowInput], Generic[TWorkflowInput, R]):
    """A single-task workflow whose run() returns the task's typed output."""

    @property
    def _task(self) -> Task[TWorkflowInput, R]:
        return self.tasks[0]

    def _extract(self, result: dict[str, Any]) -> R:
        output = result.get(self._task.name) or result or {}
        return cast(R, self._task.validate_output(output))

    def run(  # type: ignore[override]
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **kwargs: Any,
    ) -> Any:
        ref = super().run(input, options, wait_for_result=False, **kwargs)
        task_ref = self._task_ref(ref.workflow_run_id)
        return task_ref.result() if wait_for_result else task_ref

    async def aio_run(  # type: ignore[override]
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **kwargs: Any,
    ) -> Any:
        ref = await super().aio_run(input, options, wait_for_result=False, **kwargs)
        task_ref = self._task_ref(ref.workflow_run_id)
        return await task_ref.aio_result() if wait_for_result else task_ref

    def run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        results = super().run_many(workflows, return_exceptions=return_exceptions, wait_for_result=wait_for_result)
        if not wait_for_result:
            return [self._task_ref(r.workflow_run_id) for r in results]
        return [r if isinstance(r, BaseException) else self._extract(r) for r in results]

    async def aio_run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        results = await super().aio_run_many(
            workflows, return_exceptions=return_exceptions, wait_for_result=wait_for_result
        )
        if not wait_for_result:
            return [self._task_ref(r.workflow_run_id) for r in results]
        return [r if isinstance(r, BaseException) else self._extract(r) for r in results]

    def _task_ref(self, run_id: str) -> TaskRunRef[TWorkflowInput, R]:
        return TaskRunRef(run_id, self)

    def get_run_ref(self, run_id: str) -> TaskRunRef[TWorkflowInput, R]:
        return self._task_ref(run_id)

    def get_result(self, run_id: str) -> R:
        return self._task_ref(run_id).result()

    async def aio_get_result(self, run_id: str) -> R:
        return await self._task_ref(run_id).aio_result()

    def mock_run(self, *args: Any, **kwargs: Any) -> R:
        return self._task.mock_run(*args, **kwargs)

    async def aio_mock_run(self, *args: Any, **kwargs: Any) -> R:
        return await self._task.aio_mock_run(*args, **kwargs)

    @property
    def output_validator(self) -> TypeAdapter[Any] | None:
        return self._task.output_validator
